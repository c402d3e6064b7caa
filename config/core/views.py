from __future__ import annotations

import hmac
import re
import sys

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from . import health as health_checks
from . import selectors, services
from .humanize import percent
from .middleware import unavailable_response
from .models import Job
from .negotiation import wants_json
from .words import state_word

TASK_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# How soon a client should ask again; None once the job is final (stop polling).
POLL_AFTER_MS = {
    Job.State.QUEUED: 1000,
    Job.State.STARTED: 500,
    Job.State.PROGRESS: 500,
    Job.State.RETRY: 2000,
}


def job_status_payload(row: dict) -> dict:
    total = row["progress_total"]
    progress = None
    if total:
        current = row["progress_current"] or 0
        progress = {"current": current, "total": total, "percent": percent(current, total)}
    return {
        "task_id": row["task_id"],
        "state": row["state"],
        "state_label": state_word(row["state"]),
        "progress": progress,
        "result": row["result"] if row["state"] == Job.State.SUCCESS else None,
        "error": row["error"] or None,
        "poll_after_ms": POLL_AFTER_MS.get(row["state"]),
    }


@require_GET
@never_cache
def task_status(request, task_id: str):
    if not TASK_ID.match(task_id):
        raise Http404
    row = selectors.job_status_for_user(user=request.user, task_id=task_id)
    if row is None:
        raise Http404
    return JsonResponse(job_status_payload(row))


MESSAGE_NO_STREAM = "Live updates need the ASGI web server; this page checks each job instead."


@require_GET
@never_cache
async def task_stream(request):
    """Server-sent events for the jobs ``?ids=a,b,c`` of the user asking (config/core/push.py).

    Ids that are malformed, unknown or someone else's are left out, alike. An async view: the
    stream waits on the event loop and holds no thread while it waits.
    """
    from . import push  # noqa: PLC0415 - cycle: push imports this module (job_status_payload)

    user = await request.auser()
    if not user.is_authenticated:
        raise Http404
    ids = [i for i in request.GET.get("ids", "").split(",") if TASK_ID.match(i)][: push.MAX_IDS]
    if not ids:
        return JsonResponse({"error": "Say which jobs to watch: ?ids=<task id>,<task id>"}, status=400)
    if not isinstance(request, ASGIRequest):
        # Under WSGI (config/wsgi.py, runserver, pytest-django's live_server) Django reads an async
        # stream to its end before the first byte leaves: the page would see nothing for up to
        # PUSH_STREAM_LIFETIME while a thread waits. Refused, the page polls at once instead.
        return JsonResponse({"error": MESSAGE_NO_STREAM}, status=503)
    last = request.headers.get("Last-Event-ID", "")
    response = StreamingHttpResponse(
        push.stream(owner_id=user.pk, task_ids=ids, last_event_id=int(last) if last.isdigit() else None),
        content_type="text/event-stream",
    )
    # A proxy (nginx) must pass each event on as it comes, not buffer the response.
    response["X-Accel-Buffering"] = "no"
    return response


MESSAGE_CANCELLED = "Cancelled. The job will not run."
MESSAGE_TOO_LATE = "This job has already finished, so there is nothing left to cancel."


@require_POST
@never_cache
def task_cancel(request, task_id: str):
    """The owner cancels a queued or running job: JSON for API clients, a redirect for browsers
    (back to the page the button was on, given as ``next``). A finished job is a 409."""
    if not TASK_ID.match(task_id):
        raise Http404
    job = selectors.job_for_user(user=request.user, task_id=task_id)
    if job is None:
        raise Http404
    try:
        services.job_cancel(job=job)
    except services.JobAlreadyFinished:
        if wants_json(request):
            row = selectors.job_status_for_user(user=request.user, task_id=task_id)
            return JsonResponse({**job_status_payload(row), "error": MESSAGE_TOO_LATE}, status=409)
        # The page the button was on is stale: back to it, where the outcome now shows.
        messages.error(request, MESSAGE_TOO_LATE)
        return _back(request)
    if wants_json(request):
        row = selectors.job_status_for_user(user=request.user, task_id=task_id)
        return JsonResponse(job_status_payload(row))
    messages.success(request, MESSAGE_CANCELLED)
    return _back(request)


def _back(request) -> HttpResponseRedirect:
    target = request.POST.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    if not safe:
        target = "/"
    response = HttpResponseRedirect(target)
    response.status_code = 303
    return response


@login_not_required
@require_GET
@never_cache
def metrics(request):
    """Prometheus text format for a staff session or `Authorization: Bearer <METRICS_TOKEN>`; a 404
    for anyone else, so the endpoint's existence is not advertised."""
    from . import metrics as job_metrics  # noqa: PLC0415 - prometheus_client loads only in a process that serves /metrics

    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    by_token = (
        bool(token)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode(), token.encode())
    )
    by_staff = request.user.is_authenticated and request.user.is_staff
    if not (by_token or by_staff):
        raise Http404
    return HttpResponse(job_metrics.scrape(), content_type=job_metrics.CONTENT_TYPE)


@login_not_required
@require_GET
@never_cache
def healthz(request):
    parts = health_checks.health()
    down = [name for name, part in parts.items() if part["status"] != "ok"]
    body = {"status": "ok" if not down else "down", "down": down, **parts}
    return JsonResponse(body, status=503 if down else 200)


def home(request):
    return redirect("media_app:gallery")


def _error(request, status: int, message: str):
    if wants_json(request) or request.path.startswith("/tasks/"):
        return JsonResponse({"error": message}, status=status)
    return render(request, "error.html", {"status": status, "message": message}, status=status)


def bad_request(request, exception=None):
    return _error(request, 400, "That request could not be understood.")


def permission_denied(request, exception=None):
    return _error(request, 403, "You are not allowed to do that.")


def page_not_found(request, exception=None):
    return _error(request, 404, "We could not find that page.")


def server_error(request):
    # Called while the exception is handled: one raised by a middleware (the session or the user
    # loaded from a database that went away) is an outage, answered 503 like one in a view.
    response = unavailable_response(request, sys.exc_info()[1])
    if response is not None:
        return response
    return _error(request, 500, "Something went wrong on our side. We have logged it.")


def csrf_failure(request, reason=""):
    return _error(request, 403, "Your form expired or came from another site. Reload the page and try again.")
