"""How pages say a moment and a duration: in the viewer's time zone (the one activated for the
request, config.accounts.middleware), with relative words for the recent past ("just now",
"5 minutes ago") and the zone named beside every full date. core/times.js keeps the relative
words fresh in an open page by the same rules.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from .humanize import plural

# Within this many seconds of now a moment reads as relative words; older ones as a date.
RELATIVE_FOR = 24 * 3600


def relative(value: datetime, now: datetime | None = None) -> str | None:
    """ "just now", "5 minutes ago", "in 3 hours"; None beyond a day either side."""
    now = now or timezone.now()
    seconds = (now - value).total_seconds()
    ahead = seconds < 0
    seconds = abs(seconds)
    if seconds >= RELATIVE_FOR:
        return None
    if seconds < 45:
        return "just now" if not ahead else "in a moment"
    if seconds < 3600:
        amount = plural(max(1, round(seconds / 60)), "minute")
    else:
        amount = plural(int(seconds // 3600), "hour")
    return f"in {amount}" if ahead else f"{amount} ago"


def zoned(value: datetime) -> str:
    """The full date and time in the viewer's zone, naming it: "1 Dec 2026, 14:05 (Europe/Berlin)"."""
    local = timezone.localtime(value)
    return f"{local.day} {local:%b %Y, %H:%M} ({timezone.get_current_timezone_name()})"
