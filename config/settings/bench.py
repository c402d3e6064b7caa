"""Benchmarks (`make bench`): production-like, with the bare baseline views and tasks mounted.

Only `python -m tests.bench` uses this module. It differs from production in what a benchmark
needs: a throwaway database (a SQLite file under var/bench/, or the PostgreSQL database of the
PostgreSQL pass, BENCH_DATABASE_URL) and media folder under var/bench/, fake secrets, plain HTTP, and a
urlconf that adds the bare views every figure is compared with (tests/bench/urls.py). DEBUG stays
off: with it on, Django keeps every query in memory and the figures would measure that.
"""

from .base import *  # noqa: F403
from .base import VAR_DIR, env, tune_sqlite

BENCH_DIR = VAR_DIR / "bench"

DEBUG = False
SECRET_KEY = "bench-only-insecure-key"  # noqa: S105
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

DATABASES = {
    "default": env.db("BENCH_DATABASE_URL", default=f"sqlite:///{BENCH_DIR / 'bench.sqlite3'}"),
}
tune_sqlite(DATABASES["default"])

MEDIA_ROOT = BENCH_DIR / "media"
REPORTS_TEMP_DIR = BENCH_DIR / "tmp" / "exports"
if STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):  # S3 has no folder of ours
    STORAGES["default"]["OPTIONS"]["location"] = str(MEDIA_ROOT)
# No collectstatic before a benchmark; no page measured here renders static URLs.
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
CACHES["default"]["KEY_PREFIX"] = "bench"
CACHES["throttle"]["KEY_PREFIX"] = CACHES["default"]["KEY_PREFIX"]

ROOT_URLCONF = "tests.bench.urls"
# The no-op and CPU-burning tasks the measures send (tests/bench/tasks.py).
CELERY_IMPORTS = ["tests.bench.tasks"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
