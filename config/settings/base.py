"""Settings shared by every environment, read from the environment.

local.py, test.py and production.py change only what differs.
"""

from pathlib import Path
from urllib.parse import urlparse

import environ
from csp.constants import NONE, SELF

from config.core.broker import give_up_on_timeout

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
    "csp",
    "django_celery_results",
    "django_celery_beat",
    "config.core",
    "config.accounts",
    "config.ops",
    "media_app",
    "reports",
    "notifications",
    "config.mydata",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Above everything that can answer (static files, redirects, errors): every response gets both.
    "config.core.middleware.ContentSecurityPolicyMiddleware",
    "config.core.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Pages in the signed-in person's own time zone (their profile; settings.TIME_ZONE otherwise).
    "config.accounts.middleware.TimeZoneMiddleware",
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
                "config.core.context_processors.nav",
                "notifications.context_processors.unread",
            ],
        },
    },
]

# --- Content-Security-Policy and Permissions-Policy ----------------------------------------------
# Scripts, styles, images and fetches from this origin only; no inline script or style anywhere
# (the admin's few inline ones are replaced by static files in config/ops and config/core
# templates), no plugins, no framing, forms post only here. blob: for the upload page's previews.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "manifest-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}
# Browser features no page here uses, turned off for this origin and anything it could embed.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

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
    elif db["ENGINE"] == "django.db.backends.postgresql" and env.int("DB_POOL_SIZE", default=0):
        # The web process (the Procfile sets DB_POOL_SIZE there) serves ASGI, where each request
        # runs in a thread of its own: a connection kept per thread (CONN_MAX_AGE) would be opened
        # for every request (~20 ms to PostgreSQL here) and left to the garbage collector. A pool per
        # process hands each request a connection, checked first (CONN_HEALTH_CHECKS), and takes it
        # back. Workers keep a thread, and so a persistent connection, for their whole life.
        size = env.int("DB_POOL_SIZE")
        db["CONN_MAX_AGE"] = 0
        db.setdefault("CONN_HEALTH_CHECKS", True)
        db.setdefault("OPTIONS", {})["pool"] = {"min_size": min(2, size), "max_size": size, "timeout": 10}
    else:
        db.setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
        db.setdefault("CONN_HEALTH_CHECKS", True)
    if db["ENGINE"] == "django.db.backends.postgresql":
        # A database host that stops answering (cut off; failed over without a reset) is given up
        # like Redis and S3 are (Network timeouts): a connect after 5 s, a query whose bytes no one
        # acknowledges after 5 s of TCP_USER_TIMEOUT (the kernel gave up ~12 s after the send, the
        # hosts' database_black_holed_mid_query). Left to TCP, a query sent during a 30 s cut got
        # through at a retransmission ~51 s later, past the task's soft time limit, mid-call
        # (tests/hosts); up to 15 minutes for a peer gone for good. A slow answer is never cut.
        db.setdefault("OPTIONS", {}).update({"connect_timeout": 5, "tcp_user_timeout": 5_000})
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
# Limits per person (config/accounts/quotas.py); staff override both per user in the admin.
ACCOUNTS_STORAGE_QUOTA_BYTES = env.int("ACCOUNTS_STORAGE_QUOTA_BYTES", default=1024 * 1024 * 1024)
ACCOUNTS_UPLOADS_PER_MINUTE = env.int("ACCOUNTS_UPLOADS_PER_MINUTE", default=30)

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
# A job whose storage fails keeps retrying (backoff with jitter) for at least this many seconds in
# all, so a short outage of the object store passes unseen (config/core/storage.py).
STORAGE_RETRY_BUDGET_SECONDS = env.int("STORAGE_RETRY_BUDGET_SECONDS", default=60)


def s3_storage() -> dict:
    """The S3 storage (django-storages; any S3-compatible store through AWS_S3_ENDPOINT_URL).

    The bucket stays private: files are streamed by the views that check their owner. Timeouts
    fail fast and botocore retries once: a web request answers 503 in seconds, and a job retries
    on the storage retry budget above instead of hanging 60 s per call (botocore's defaults).
    Credentials come the usual boto3 way (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a role).
    """
    from botocore.config import Config  # noqa: PLC0415 - botocore is needed only when S3 storage is configured

    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME", default=""),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": True,
            "client_config": Config(
                connect_timeout=env.float("AWS_S3_CONNECT_TIMEOUT", default=2.0),
                read_timeout=env.float("AWS_S3_READ_TIMEOUT", default=10.0),
                retries={"mode": "standard", "total_max_attempts": 2},
                s3={"addressing_style": env("AWS_S3_ADDRESSING_STYLE", default="auto")},
                signature_version="s3v4",
            ),
        },
    }


if STORAGE_BACKEND == "s3":
    _default_storage = s3_storage()
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

# --- Network timeouts ---------------------------------------------------------------------------
# A broker or Redis that stops answering (a frozen process, dropped packets: nothing refuses the
# connection, the kernel even accepts new ones) is given up after these many seconds by every Redis
# and AMQP client: the broker (Redis or RabbitMQ), the cache, locks and leases (config/core/redis.py)
# and the health checks. A request that publishes then answers 503 within about SOCKET_TIMEOUT.
SOCKET_CONNECT_TIMEOUT = env.float("SOCKET_CONNECT_TIMEOUT", default=1.0)
SOCKET_TIMEOUT = env.float("SOCKET_TIMEOUT", default=1.0)

# --- Web server (ASGI; config/asgi.py, config/core/asgi_limits.py) ---------------------------------
# A request body that sends nothing for this many seconds is answered 408 and its connection closed;
# so is one not complete this long after its headers (300 s: a 25 MB photo at 0.7 Mbit/s).
WEB_BODY_IDLE_TIMEOUT = env.float("WEB_BODY_IDLE_TIMEOUT", default=10.0)
WEB_BODY_TIMEOUT = env.float("WEB_BODY_TIMEOUT", default=300.0)

# --- Metrics (GET /metrics; config/core/metrics.py) ------------------------------------------------
# Prometheus scrapes with `Authorization: Bearer <METRICS_TOKEN>` (or a staff session); empty: staff only.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# Histograms, failures, retries and cancellations describe jobs finished in the last this many seconds,
# read from at most METRICS_WINDOW_ROWS rows per scrape.
METRICS_WINDOW = env.int("METRICS_WINDOW", default=900)
METRICS_WINDOW_ROWS = env.int("METRICS_WINDOW_ROWS", default=50_000)
# Queues whose depth and oldest message are reported; empty: every queue CELERY_TASK_ROUTES names.
METRICS_QUEUES = env.list("METRICS_QUEUES", default=[])
# How long a scrape waits for workers to answer its ping (seconds).
METRICS_PING_TIMEOUT = env.float("METRICS_PING_TIMEOUT", default=0.5)

# --- Pushed job status (GET /tasks/stream/; config/core/push.py)  -----------------------------------
# A stream ends after this many seconds (the browser reconnects with Last-Event-ID); a comment line
# keeps it alive every PUSH_HEARTBEAT seconds through proxies that drop idle connections.
PUSH_STREAM_LIFETIME = env.float("PUSH_STREAM_LIFETIME", default=300.0)
PUSH_HEARTBEAT = env.float("PUSH_HEARTBEAT", default=15.0)

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
        "BACKEND": "config.core.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="backroom"),
        "OPTIONS": {
            "socket_connect_timeout": SOCKET_CONNECT_TIMEOUT,
            "socket_timeout": SOCKET_TIMEOUT,
        },
    },
}
# The login, reset and upload-rate counters (config/accounts/throttle.py) are best effort: when
# Redis does not answer they let the request through, so they wait for it far less than the
# publish that follows them, which must still fail (503) within about SOCKET_TIMEOUT.
THROTTLE_SOCKET_TIMEOUT = env.float("THROTTLE_SOCKET_TIMEOUT", default=0.25)
CACHES["throttle"] = {
    **CACHES["default"],
    "OPTIONS": {"socket_connect_timeout": THROTTLE_SOCKET_TIMEOUT, "socket_timeout": THROTTLE_SOCKET_TIMEOUT},
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
BACKROOM_MAX_COUNTDOWN = env.int("BACKROOM_MAX_COUNTDOWN", default=600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    # Redis broker: every command and connect (a publish, an ack) gives up after these.
    "socket_connect_timeout": SOCKET_CONNECT_TIMEOUT,
    "socket_timeout": SOCKET_TIMEOUT,
    # kombu's checks of a worker's long-lived BRPOP and pub/sub connections, which no socket timeout
    # covers: a worker whose Redis froze drops them and reconnects within about 1 + 2 x this many
    # seconds once Redis answers again (kombu's default, 25, makes that 51 s).
    "health_check_interval": 10,
    # RabbitMQ (py-amqp): SO_RCVTIMEO and SO_SNDTIMEO of the connection's socket.
    "read_timeout": SOCKET_TIMEOUT,
    "write_timeout": SOCKET_TIMEOUT,
    # No silent reconnect inside redis-py: with it, a cut pub/sub connection (remote control) came
    # back on a new socket kombu never registered, and the worker hung until a broadcast arrived
    # (tests/reliability, CLIENT KILL). Without it kombu sees the error and reconnects everything.
    "retry_on_timeout": False,
    # How often a worker sweeps for messages held by a dead worker (seconds), and 1 in how many
    # sweeps run: a message whose worker died is back in the queue within the visibility timeout
    # plus this interval. Unset, kombu's defaults stand (every 10 s, throttled to 1 in 10); the
    # fault tests and the multi-host harness set 1, shared with production rather than a test-only
    # setting, so what they prove is what a deployment does.
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": 1 if env("CELERY_UNACKED_RESTORE_INTERVAL", default="") else 10,
    # The lock that keeps two workers' sweeps apart, for seconds (kombu's default, 300). A sweep
    # takes milliseconds, but a worker cut off mid-sweep leaves its lock behind: its SET, stuck in
    # the kernel's send queue, reached Redis by TCP retransmission once the link was back, long
    # after the worker gave up, and stopped every worker's sweeps for 5 minutes (tests/hosts). Two
    # sweeps at once are safe: each message moves back in a transaction that finds it only once.
    "unacked_mutex_expire": 10,
}
# Connecting, and for RabbitMQ the AMQP handshake too.
CELERY_BROKER_CONNECTION_TIMEOUT = SOCKET_CONNECT_TIMEOUT
# RabbitMQ: a worker whose broker froze notices two missed heartbeats and reconnects (within about
# a minute rather than Celery's four). Only workers' consuming connections send heartbeats.
CELERY_BROKER_HEARTBEAT = 30
# Publishing connections per process (kombu's default, 10): a web process publishes from at most
# its ASGI thread pool's few threads at once; the result backend is the database (its pool is
# WEB_DB_POOL_SIZE), so there is no result connection pool to size.
CELERY_BROKER_POOL_LIMIT = env.int("CELERY_BROKER_POOL_LIMIT", default=10)
# A deploy's stop: running tasks get this long to finish (below a platform's usual 30 s grace
# before SIGKILL, and gunicorn's 20 s); then the worker requeues what is left (acks_late) at once,
# instead of Redis handing it out again only after the visibility timeout. Idle workers too.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = env.float("CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT", default=20.0)
CELERY_WORKER_ENABLE_SOFT_SHUTDOWN_ON_IDLE = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# A publish retries briefly, then gives up, so a view answers 503 fast instead of hanging; a publish
# that timed out is not retried at all (config/core/broker.py): each try would cost another timeout.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.4,
    "errback": give_up_on_timeout,
}
# Celery's Django fixup closes the database connection after every task unless told to reuse it;
# reconnecting (and SQLite's PRAGMAs) was ~35 % of a short task's CPU. A dead connection is still
# replaced: JobTask retries a job whose connection broke (see config/core/jobtask.py).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=100)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "media_app.*": {"queue": "media"},
    "reports.*": {"queue": "reports"},
    # A person's archive and account erasure: long file work, like exports.
    "mydata.*": {"queue": "reports"},
    "notifications.*": {"queue": "notifications"},
    "*": {"queue": "default"},
}
CELERY_BEAT_SCHEDULER = "config.ops.beat:LeaderDatabaseScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = 5
DJANGO_CELERY_BEAT_TZ_AWARE = True

# Django's Tasks API (django.tasks; the django-tasks backport before Django 6) on our job layer and
# workers: config/core/tasks_backend.py. QUEUES defaults to the queues above; "side" is for jobs whose
# request must succeed with the broker down (emails): they stay QUEUED and are re-dispatched.
TASKS = {
    "default": {"BACKEND": "config.core.tasks_backend.BackroomTaskBackend"},
    "side": {
        "BACKEND": "config.core.tasks_backend.BackroomTaskBackend",
        "OPTIONS": {"DEFER_IF_BROKER_DOWN": True},
    },
}
try:
    import django.tasks  # noqa: F401  Django 6: built in, nothing to install
except ImportError:
    INSTALLED_APPS.append("django_tasks")

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
# A deleted image can be brought back this long; then the cleanup removes it and its files.
MEDIA_DELETE_GRACE_SECONDS = env.int("MEDIA_DELETE_GRACE_SECONDS", default=7 * 24 * 3600)

# --- reports ------------------------------------------------------------------------------------
# Download links (and the files behind them) last this many seconds.
# A person's data archive (mydata) is kept this long after it is built; its link lasts REPORTS_LINK_MAX_AGE.
MYDATA_ARCHIVE_KEEP_SECONDS = env.int("MYDATA_ARCHIVE_KEEP_SECONDS", default=7 * 24 * 3600)
REPORTS_LINK_MAX_AGE = env.int("REPORTS_LINK_MAX_AGE", default=24 * 3600)
# Exports one user may have queued or running; the next request is answered 429.
REPORTS_MAX_ACTIVE_PER_USER = env.int("REPORTS_MAX_ACTIVE_PER_USER", default=3)
# The export task's own limits: long enough for a million rows, well below the visibility timeout.
REPORTS_TASK_SOFT_TIME_LIMIT = env.int("REPORTS_TASK_SOFT_TIME_LIMIT", default=1500)
REPORTS_TASK_TIME_LIMIT = env.int("REPORTS_TASK_TIME_LIMIT", default=1800)
# Rows one export may hold: an Excel sheet's limit, or fewer to keep exports short.
REPORTS_MAX_ROWS = env.int("REPORTS_MAX_ROWS", default=1_048_575)
# Workbooks being written, and those a killed worker left (swept): this install's own, not /tmp,
# which every install on the machine shares.
REPORTS_TEMP_DIR = VAR_DIR / "tmp" / "exports"

# --- notifications ------------------------------------------------------------------------------
# First retry of an email after a temporary SMTP failure (421, timeout, refused connection) comes
# after about this many seconds, then doubling with jitter; 5 retries at most.
NOTIFICATIONS_RETRY_BASE_SECONDS = env.float("NOTIFICATIONS_RETRY_BASE_SECONDS", default=20.0)

# --- ops (cleanup, statistics, schedules) -------------------------------------------------------
