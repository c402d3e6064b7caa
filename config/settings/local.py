"""Local development: `make run`. Fake secrets are fine here and nowhere else."""

from .base import *  # noqa: F403
from .base import env

# Off by default, so a newcomer sees the pages people see (branded 404/500, JSON errors for JSON
# clients) and WhiteNoise serves the collected static files; DJANGO_DEBUG=1 turns it on.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-only-insecure-key-do-not-deploy")
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
