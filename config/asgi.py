"""The web process's entry point (Procfile: gunicorn with uvicorn workers).

ASGI because a slow client must not hold a thread: the server and Django await a request's body on
the event loop, and only a complete request takes a thread (Django runs each sync view in a thread
of its own). The same holds for a response that waits on events, such as pushed job status.
BodyLimits enforces the body's size limits while it arrives and drops a body that stalls; see there.
"""

import os
import warnings

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django.setup(set_prefix=False)  # what get_asgi_application() does, for a handler of our own

from django.conf import settings  # noqa: E402 - after setup

from config.core.asgi_limits import BodyLimits, Limits, WholeBodyHandler  # noqa: E402
from config.core.warmup import warm_and_freeze  # noqa: E402

application = BodyLimits(
    WholeBodyHandler(),
    Limits(
        file_bytes=settings.MEDIA_MAX_UPLOAD_BYTES,
        files=settings.DATA_UPLOAD_MAX_NUMBER_FILES,
        fields_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
        idle_timeout=settings.WEB_BODY_IDLE_TIMEOUT,
        body_timeout=settings.WEB_BODY_TIMEOUT,
    ),
)
# Files (WhiteNoise's static files, private files through FileResponse) are sync iterators, which
# Django's ASGI handler reads in a thread, chunk by chunk, and says so once per process. Expected.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")
warm_and_freeze()
