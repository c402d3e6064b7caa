"""Configuration the notifications app cannot run safely with, reported by `manage.py check`."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

from .services import sending_lease


@register()
def sending_lease_within_max_countdown(app_configs=None, **kwargs) -> list[Error]:
    """A duplicate delivery waits out the sending lease (6 x EMAIL_TIMEOUT) as a retry; the stale-job
    sweep counts on no retry waiting longer than BACKROOM_MAX_COUNTDOWN, and would fail it early."""
    wait = sending_lease().total_seconds() + 1
    if wait <= settings.BACKROOM_MAX_COUNTDOWN:
        return []
    return [
        Error(
            f"EMAIL_TIMEOUT={settings.EMAIL_TIMEOUT} makes a duplicate email wait {wait:.0f} s, longer "
            f"than BACKROOM_MAX_COUNTDOWN={settings.BACKROOM_MAX_COUNTDOWN} s.",
            hint="Lower EMAIL_TIMEOUT to at most (BACKROOM_MAX_COUNTDOWN - 1) / 6 seconds.",
            id="notifications.E001",
        )
    ]
