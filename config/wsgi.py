"""WSGI entry point, for a WSGI server if one is wanted; the Procfile serves config.asgi."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()

from config.core.warmup import warm_and_freeze  # noqa: E402 - needs the app loaded

warm_and_freeze()
