from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.accounts import quotas
from config.accounts import selectors as accounts
from config.accounts.forms import TimeZoneForm
from config.core.humanize import human_bytes
from config.core.negotiation import wants_json

from . import selectors, services
from .forms import PreferencesForm
from .models import Kind

PAGE_SIZE = 30


@require_GET
def index(request):
    page = Paginator(selectors.notifications_for_user(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "notifications/index.html", {"page": page})


@require_GET
@never_cache
def unread_count(request):
    return JsonResponse({"unread": selectors.unread_count(user=request.user)})


@require_POST
def mark_read(request, pk: int):
    if not services.notification_mark_read(user=request.user, notification_id=pk):
        raise Http404
    return _done(request, {"id": pk, "read": True})


@require_POST
def mark_all_read(request):
    marked = services.notifications_mark_all_read(user=request.user)
    if not wants_json(request):
        messages.success(request, "All notifications are marked read.")
    return _done(request, {"marked": marked})


def _done(request, payload: dict):
    if wants_json(request):
        return JsonResponse({**payload, "unread": selectors.unread_count(user=request.user)})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "notifications:index"
    return redirect(target or "notifications:index")


@require_http_methods(["GET", "POST"])
def preferences(request):
    form = PreferencesForm(
        request.POST or None, initial_choices=selectors.email_preferences(user=request.user)
    )
    if request.method == "POST" and form.is_valid():
        services.preferences_set(user=request.user, email_enabled=form.email_choices())
        messages.success(request, "Your email preferences are saved.")
        return redirect("notifications:preferences")
    confirmed = accounts.email_verified(user=request.user)
    # The Settings page holds the person's time zone too; accounts' own view saves it.
    zone_form = TimeZoneForm(initial={"time_zone": accounts.time_zone_for(user=request.user)})
    usage = quotas.usage(user_id=request.user.pk)
    context = {"form": form, "email_confirmed": confirmed, "time_zone_form": zone_form, "usage": usage}
    context["usage_text"] = f"{human_bytes(usage.used)} of {human_bytes(usage.allowed)}"
    return render(request, "notifications/preferences.html", context)


@login_not_required
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """From a link in an email: works without logging in; the signed token is the permission.
    GET only asks (mail scanners follow links); POST, with CSRF, turns that kind's email off."""
    target = selectors.unsubscribe_target(token=token)
    if target is None:
        raise Http404
    user, kind = target
    context = {"kind_label": Kind(kind).label, "done": False}
    if request.method == "POST":
        services.preference_set(user=user, kind=kind, email_enabled=False)
        context["done"] = True
    return render(request, "notifications/unsubscribe.html", context)
