"""Test settings with a storage that fails on demand (see flaky.py); only the retry tests' worker."""

from config.settings.test import *  # noqa: F403
from config.settings.test import MEDIA_ROOT, MEDIA_URL, STORAGES

STORAGES = {
    **STORAGES,
    "default": {
        "BACKEND": "tests.media_app.flaky.FlakyStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
    },
}
# A budget the storage fault tests can wait out: at least 20 s in all, reached after five retries.
STORAGE_RETRY_BUDGET_SECONDS = 20
