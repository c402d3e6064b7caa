"""Show every page in the person's own time zone."""

from __future__ import annotations

import zoneinfo

from django.utils import timezone

from . import selectors, zones

# The zone is kept in the session, so a request costs no query: the first request after a login
# reads the profile once; the settings page writes the new zone here too.
SESSION_KEY = "accounts_time_zone"


def remember_time_zone(request, name: str) -> None:
    request.session[SESSION_KEY] = name


class TimeZoneMiddleware:
    """Activate the signed-in person's zone (django.utils.timezone.activate) for the request;
    anonymous requests keep settings.TIME_ZONE. After AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            name = request.session.get(SESSION_KEY)
            if not (isinstance(name, str) and zones.is_known(name)):
                name = selectors.time_zone_for(user=user)
                remember_time_zone(request, name)
            timezone.activate(zoneinfo.ZoneInfo(name))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
