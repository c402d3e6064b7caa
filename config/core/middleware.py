from csp.constants import HEADER as CSP_HEADER
from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware
from csp.utils import build_policy
from django import db
from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

from .errors import (
    MESSAGE_BROKER_DOWN,
    MESSAGE_DATABASE_UNAVAILABLE,
    MESSAGE_STORAGE_UNAVAILABLE,
    BrokerUnavailable,
    StorageUnavailable,
)
from .negotiation import wants_json


class LoginOrNotFoundMiddleware(LoginRequiredMiddleware):
    """A browser is sent to the login page; any other anonymous client gets a plain 404.

    An API client, a script or a crawler learns nothing about which ids exist.
    """

    def handle_no_permission(self, request, view_func):
        if not wants_json(request):
            return super().handle_no_permission(request, view_func)
        return JsonResponse({"error": "Not found."}, status=404)


class BrokerUnavailableMiddleware:
    """Turn a refused publish into a 503 that says the work is saved and will run later, a storage
    that does not answer into a 503 that says nothing was saved, and a database that went away (a
    restart, a failover: OperationalError, InterfaceError) into a 503 that says try again shortly.
    A database error raised outside a view (the session or the user, loaded by a middleware) meets
    the same answer in config.core.views.server_error."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return unavailable_response(request, exception)


# Seconds a client should wait before trying again, per kind of outage.
RETRY_AFTER = {"broker": 30, "storage": 30, "database": 5}


def unavailable_response(request, exception: BaseException):
    """The 503 for an outage of a part the request needed, or None for any other exception."""
    if isinstance(exception, BrokerUnavailable):
        message, part = MESSAGE_BROKER_DOWN, "broker"
    elif isinstance(exception, StorageUnavailable):
        message, part = MESSAGE_STORAGE_UNAVAILABLE, "storage"
    elif isinstance(exception, (db.OperationalError, db.InterfaceError)):
        message, part = MESSAGE_DATABASE_UNAVAILABLE, "database"
    else:
        return None
    if not wants_json(request):
        try:
            response = render(request, "error.html", {"status": 503, "message": message}, status=503)
        except Exception:  # a context processor that needs the database: plain text then
            response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
    else:
        response = JsonResponse({"error": message}, status=503)
    response["Retry-After"] = str(RETRY_AFTER[part])
    return response


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with a policy on every response, DEBUG error pages included.

    django-csp sends no header at all on a 404 or 500 while DEBUG is on, so that Django's technical
    pages, which carry inline style and script, render. Those pages get the same policy with inline
    style and script allowed instead: still no framing, plugins, foreign sources or form targets.
    """

    def process_response(self, request, response):
        if settings.DEBUG and response.status_code in (404, 500) and CSP_HEADER not in response:
            response[CSP_HEADER] = build_policy(
                update={"script-src": [UNSAFE_INLINE], "style-src": [UNSAFE_INLINE]}
            )
            return response
        return super().process_response(request, response)


class PermissionsPolicyMiddleware:
    """Send `Permissions-Policy` from settings.PERMISSIONS_POLICY ({feature: [origins]}) on every
    response; an empty list turns the feature off, "self" allows this origin."""

    def __init__(self, get_response):
        self.get_response = get_response
        parts = []
        for feature, origins in settings.PERMISSIONS_POLICY.items():
            allowed = " ".join("self" if o == "self" else f'"{o}"' for o in origins)
            parts.append(f"{feature}=({allowed})")
        self.header = ", ".join(parts)

    def __call__(self, request):
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Permissions-Policy", self.header)
        return response
