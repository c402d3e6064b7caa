"""Tests: real Redis, real workers, a real database. Never eager."""

import os

from .base import *  # noqa: F403
from .base import DATABASES, VAR_DIR, env

SECRET_KEY = "test-only-insecure-key"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=3)
# No collectstatic in tests.
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# Each pytest session gets its own test database and media folder, so two sessions can run at once.
_run = env("BACKROOM_TEST_RUN", default=str(os.getpid()))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{_run}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_backroom_{_run}"}
MEDIA_ROOT = VAR_DIR / f"test-media-{_run}"
REPORTS_TEMP_DIR = VAR_DIR / f"test-tmp-{_run}" / "exports"
if STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):  # S3 has no folder of ours
    STORAGES["default"]["OPTIONS"]["location"] = str(MEDIA_ROOT)
CACHES["default"]["KEY_PREFIX"] = f"test-{_run}"
CACHES["throttle"]["KEY_PREFIX"] = CACHES["default"]["KEY_PREFIX"]

# Short timeouts so fault-injection tests finish quickly.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=60),
}
BACKROOM_REDISPATCH_AFTER = 0
BACKROOM_TEST_RUN = _run
# Tasks that only the test worker knows (no-op, sleep, crash): see tests/tasks.py.
CELERY_IMPORTS = ["tests.tasks"]
# notifications (issue 5): email retry backoff in fractions of a second, so SMTP retry tests are quick.
NOTIFICATIONS_RETRY_BASE_SECONDS = 0.2
# reliability (issue 8): fault-injection workers (tests/reliability) are started with
# CELERY_VISIBILITY_TIMEOUT=10 and CELERY_UNACKED_RESTORE_INTERVAL=1 (read in base.py).
# Limits per person: tests upload many files in a row; the quota tests set their own limits.
ACCOUNTS_UPLOADS_PER_MINUTE = 10_000
