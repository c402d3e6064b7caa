"""Bare baselines: the least a view on the same server can do for the same request.

They sit behind the same middleware as every view (sessions, CSRF, login required), reached with the
same session cookie, so a ratio against them is the cost of our view's own work.
"""

from django.contrib.auth.decorators import login_not_required
from django.core.files.storage import default_storage
from django.http import JsonResponse
from django.views.decorators.http import require_GET, require_POST

CONSTANT = {"task_id": "00000000-0000-0000-0000-000000000000", "state": "STARTED", "progress": None}


@require_POST
def bare_upload(request):
    """Receive the multipart upload and save it: no checks, no rows, no task."""
    upload = request.FILES["image"]
    name = default_storage.save(f"bench-bare/{upload.name}", upload)
    return JsonResponse({"name": name}, status=201)


@require_GET
def constant(request):
    return JsonResponse(CONSTANT)


@login_not_required
@require_GET
def constant_public(request):
    """The same, without the login check (for information: what authentication costs)."""
    return JsonResponse(CONSTANT)
