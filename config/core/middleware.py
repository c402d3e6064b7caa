from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import JsonResponse

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
    """Turn a refused publish into a 503 that says the work is saved and will run later."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.shortcuts import render

        from .errors import MESSAGE_BROKER_DOWN, BrokerUnavailable

        if not isinstance(exception, BrokerUnavailable):
            return None
        if not wants_json(request):
            response = render(
                request, "error.html", {"status": 503, "message": MESSAGE_BROKER_DOWN}, status=503
            )
        else:
            response = JsonResponse({"error": MESSAGE_BROKER_DOWN}, status=503)
        response["Retry-After"] = "30"
        return response
