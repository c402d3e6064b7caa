from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from config.core.negotiation import wants_json
from config.core.serving import private_file_response

from . import services
from .forms import AccountDeleteForm
from .models import Archive


def _see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def _payload(archive: Archive) -> dict:
    ready = archive.state == Archive.State.SUCCESS and archive.file.name
    return {
        "id": archive.pk,
        "state": archive.state,
        "bytes": archive.bytes,
        "error": archive.error or None,
        "task_id": archive.job.task_id if archive.job else None,
        "status_url": reverse("task_status", args=[archive.job.task_id]) if archive.job else None,
        "download_url": services.archive_download_url(archive=archive) if ready else None,
    }


@require_safe
@never_cache
def index(request):
    archives = [_payload(a) for a in Archive.objects.filter(owner=request.user).select_related("job")[:10]]
    if wants_json(request):
        return JsonResponse({"archives": archives})
    return render(
        request, "mydata/index.html", {"archives": archives, "form": AccountDeleteForm(user=request.user)}
    )


@require_POST
def archive_request(request):
    archive = services.archive_request(user=request.user)
    if wants_json(request):
        return JsonResponse(_payload(archive), status=202)
    messages.success(request, "We are gathering your data. The link appears here when it is ready.")
    return _see_other(reverse("mydata:index"))


@require_safe
def download(request, pk: int, token: str):
    archive = Archive.objects.filter(pk=pk, owner=request.user, state=Archive.State.SUCCESS).first()
    if (
        archive is None
        or not archive.file.name
        or not services.archive_download_ok(archive=archive, token=token)
    ):
        raise Http404
    return private_file_response(
        storage=archive.file.storage,
        name=archive.file.name,
        content_type="application/zip",
        filename=f"backroom-{request.user.get_username()}.zip",
        attachment=True,
        cache_control="private, no-store",
    )


@require_http_methods(["GET", "POST"])
def account_delete(request):
    form = AccountDeleteForm(request.POST or None, user=request.user)
    if request.method == "POST":
        if not form.is_valid():
            if wants_json(request):
                errors = {f: [e["message"] for e in errs] for f, errs in form.errors.get_json_data().items()}
                return JsonResponse({"errors": errors}, status=400)
            return render(request, "mydata/delete.html", {"form": form}, status=400)
        services.account_delete_request(user=request.user)
        logout(request)
        if wants_json(request):
            return JsonResponse({"deleted": True}, status=202)
        messages.success(request, "Your account is closed. Everything in it is being deleted.")
        return _see_other(reverse("login"))
    return render(request, "mydata/delete.html", {"form": form})
