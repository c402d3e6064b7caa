"""Settings shared by every environment, read from the environment.

local.py, test.py and production.py change only what differs.
"""

from pathlib import Path
from urllib.parse import urlparse

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

# Runtime state (SQLite file, local media, private Redis, benchmark output).
VAR_DIR = Path(env("BACKROOM_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Core ---------------------------------------------------------------------------------------
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_NAME = env("SITE_NAME", default="Backroom")
# Absolute base for links in emails (a worker has no request to build them from).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_results",
    "django_celery_beat",
    "config.core",
    "config.accounts",
    "config.ops",
    "media_app",
    "reports",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a login unless its view opts out with @login_not_required.
    "config.core.middleware.LoginOrNotFoundMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "config.core.middleware.BrokerUnavailableMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.core.context_processors.site",
                "notifications.context_processors.unread",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
# SQLite by default; any database through DATABASE_URL (postgres://…, mysql://…).
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}


def tune_sqlite(db: dict) -> dict:
    """Let web, workers and beat share one SQLite file without "database is locked".

    WAL lets readers run beside the single writer; IMMEDIATE takes the write lock at BEGIN so two
    writers queue on the busy timeout instead of deadlocking on a lock upgrade.
    """
    if db["ENGINE"] == "django.db.backends.sqlite3":
        # Django's SQLite backend, with writers that wake as soon as the lock is free (see there).
        db["ENGINE"] = "config.core.sqlite3"
        # The web process sets SQLITE_WAL_AUTOCHECKPOINT=0 (Procfile): a checkpoint (with its
        # fsync) would otherwise run inside an unlucky request every ~1000 pages and set its p99.
        # Workers and beat, which commit after every task, keep SQLite's default and do them.
        autocheckpoint = env.int("SQLITE_WAL_AUTOCHECKPOINT", default=1000)
        db.setdefault("OPTIONS", {}).update(
            {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    f"PRAGMA wal_autocheckpoint={autocheckpoint};"
                ),
            }
        )
    else:
        db.setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
        db.setdefault("CONN_HEALTH_CHECKS", True)
    return db


tune_sqlite(DATABASES["default"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ---------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
# The link in the welcome email confirms the address for this long (seconds).
ACCOUNTS_VERIFY_MAX_AGE = env.int("ACCOUNTS_VERIFY_MAX_AGE", default=3 * 24 * 3600)
# Throttling (config/accounts/throttle.py): attempts allowed per window of ACCOUNTS_THROTTLE_PERIOD
# seconds, counted in Redis; beyond them, 429 with Retry-After until the window closes.
ACCOUNTS_THROTTLE_PERIOD = env.int("ACCOUNTS_THROTTLE_PERIOD", default=15 * 60)
ACCOUNTS_LOGIN_LIMIT_PER_ACCOUNT = env.int("ACCOUNTS_LOGIN_LIMIT_PER_ACCOUNT", default=5)
ACCOUNTS_LOGIN_LIMIT_PER_ADDRESS = env.int("ACCOUNTS_LOGIN_LIMIT_PER_ADDRESS", default=30)
ACCOUNTS_RESET_LIMIT_PER_EMAIL = env.int("ACCOUNTS_RESET_LIMIT_PER_EMAIL", default=3)
ACCOUNTS_RESET_LIMIT_PER_ADDRESS = env.int("ACCOUNTS_RESET_LIMIT_PER_ADDRESS", default=10)

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files and storage -------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Uploaded originals, renditions and exports are private: they are served only through views that
# check the owner, never by a public URL, so MEDIA_URL is deliberately not exposed.
MEDIA_URL = "/_private/"

STORAGE_BACKEND = env("STORAGE_BACKEND", default="local")
if STORAGE_BACKEND == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME", default=""),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": True,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Serving private files: "django" streams them (FileResponse); "nginx" answers X-Accel-Redirect
# under PRIVATE_FILES_INTERNAL_URL; "apache" answers X-Sendfile with the file's path.
PRIVATE_FILES_SERVER = env("PRIVATE_FILES_SERVER", default="django")
PRIVATE_FILES_INTERNAL_URL = env("PRIVATE_FILES_INTERNAL_URL", default="/_protected/")

# Uploads larger than this go to a temporary file rather than memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FILES = 20

# --- Redis (locks, cache, beat heartbeat) -------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
_broker_is_redis = urlparse(CELERY_BROKER_URL).scheme in ("redis", "rediss")
# Locks and the beat lease need Redis even when the broker is RabbitMQ.
REDIS_URL = env(
    "REDIS_URL",
    default=CELERY_BROKER_URL if _broker_is_redis else "redis://127.0.0.1:6379/0",
)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="backroom"),
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    }
}

# --- Celery -------------------------------------------------------------------------------------
# The job row (config.core.models.Job) is what users poll; TaskResult rows are for operators.
CELERY_RESULT_BACKEND = "config.core.backends:JobResultBackend"
CELERY_RESULT_EXTENDED = True
# Our own cleanup job purges results in batches; Celery's built-in one would DELETE in one go.
CELERY_RESULT_EXPIRES = None
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
# Events on, so Flower and `celery events` see workers and tasks (received, started, succeeded…).
CELERY_WORKER_SEND_TASK_EVENTS = True
# No "task-sent" event: it is a second publish on every send (0.25 ms of a 0.6 ms send, measured),
# and the job row already records that a task was sent (sent_at) and what it is waiting for.
CELERY_TASK_SEND_SENT_EVENT = env.bool("CELERY_TASK_SEND_SENT_EVENT", default=False)
# STARTED is written to the job row by the task itself; a second write to TaskResult buys nothing.
CELERY_TASK_TRACK_STARTED = False
# A message is acknowledged only after its task finished, and goes back to the queue if the
# process running it dies. BACKROOM_JOB_MAX_ATTEMPTS stops a task that kills its process every time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
# Longest single delay a retry may ask for (seconds); visibility_timeout must exceed it and the
# longest time limit, or Redis hands a still-running task to a second worker.
BACKROOM_MAX_COUNTDOWN = 600
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "socket_connect_timeout": 1,
    "socket_timeout": 10,
    # No silent reconnect inside redis-py: with it, a cut pub/sub connection (remote control) came
    # back on a new socket kombu never registered, and the worker hung until a broadcast arrived
    # (tests/reliability, CLIENT KILL). Without it kombu sees the error and reconnects everything.
    "retry_on_timeout": False,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# A publish retries briefly, then gives up, so a view answers 503 fast instead of hanging.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.4,
}
# Celery's Django fixup closes the database connection after every task unless told to reuse it;
# reconnecting (and SQLite's PRAGMAs) was ~35 % of a short task's CPU. A dead connection is still
# replaced: JobTask retries a job whose connection broke (see config/core/jobtask.py).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=100)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "media_app.*": {"queue": "media"},
    "reports.*": {"queue": "reports"},
    "notifications.*": {"queue": "notifications"},
    "*": {"queue": "default"},
}
CELERY_BEAT_SCHEDULER = "config.ops.beat:LeaderDatabaseScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = 5
DJANGO_CELERY_BEAT_TZ_AWARE = True

# Executions of one job that may die with their process before it is given up.
BACKROOM_JOB_MAX_ATTEMPTS = env.int("BACKROOM_JOB_MAX_ATTEMPTS", default=3)
# A QUEUED job never handed to the broker is re-sent after this many seconds.
BACKROOM_REDISPATCH_AFTER = env.int("BACKROOM_REDISPATCH_AFTER", default=30)

# --- Email --------------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Backroom <noreply@backroom.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Logging ------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
CSRF_FAILURE_VIEW = "config.core.views.csrf_failure"

# --- media_app ----------------------------------------------------------------------------------
MEDIA_MAX_UPLOAD_BYTES = env.int("MEDIA_MAX_UPLOAD_BYTES", default=25 * 1024 * 1024)
# Decompression-bomb guard: images claiming more pixels are refused before decoding.
MEDIA_MAX_PIXELS = env.int("MEDIA_MAX_PIXELS", default=50_000_000)
MEDIA_JPEG_QUALITY = env.int("MEDIA_JPEG_QUALITY", default=82)
MEDIA_WEBP_QUALITY = env.int("MEDIA_WEBP_QUALITY", default=80)
# libwebp effort 0-6: 4 is its default; 6 takes ~1.7x the time for ~5% smaller files.
MEDIA_WEBP_METHOD = env.int("MEDIA_WEBP_METHOD", default=4)
# Longest side of each rendition in pixels; never upscaled. The ladder the pages' srcset offers
# (README, Photos: why these widths and not 1600 too).
MEDIA_RENDITION_SIZES = {"large": 2048, "medium": 1024, "small": 640, "thumb": 256}
# The side of the square rendition cut around the focal point (gallery tiles).
MEDIA_SQUARE_SIZE = 512
# AVIF (libavif through Pillow): speed 0-10; 9 took a fifth of speed 8's time for files ~4%
# larger. Renditions whose longest side is at most MEDIA_AVIF_MAX_SIDE get AVIF (0: none).
MEDIA_AVIF_QUALITY = env.int("MEDIA_AVIF_QUALITY", default=65)
MEDIA_AVIF_SPEED = env.int("MEDIA_AVIF_SPEED", default=9)
MEDIA_AVIF_MAX_SIDE = env.int("MEDIA_AVIF_MAX_SIDE", default=1024)

# --- reports ------------------------------------------------------------------------------------
# Download links (and the files behind them) last this many seconds.
REPORTS_LINK_MAX_AGE = env.int("REPORTS_LINK_MAX_AGE", default=24 * 3600)
# Exports one user may have queued or running; the next request is answered 429.
REPORTS_MAX_ACTIVE_PER_USER = env.int("REPORTS_MAX_ACTIVE_PER_USER", default=3)
# The export task's own limits: long enough for a million rows, well below the visibility timeout.
REPORTS_TASK_SOFT_TIME_LIMIT = env.int("REPORTS_TASK_SOFT_TIME_LIMIT", default=1500)
REPORTS_TASK_TIME_LIMIT = env.int("REPORTS_TASK_TIME_LIMIT", default=1800)
# Rows one export may hold: an Excel sheet's limit, or fewer to keep exports short.
REPORTS_MAX_ROWS = env.int("REPORTS_MAX_ROWS", default=1_048_575)

# --- notifications ------------------------------------------------------------------------------
# First retry of an email after a temporary SMTP failure (421, timeout, refused connection) comes
# after about this many seconds, then doubling with jitter; 5 retries at most.
NOTIFICATIONS_RETRY_BASE_SECONDS = env.float("NOTIFICATIONS_RETRY_BASE_SECONDS", default=20.0)

# --- ops (cleanup, statistics, schedules) -------------------------------------------------------
