from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.core.humanize import plural
from config.core.negotiation import wants_json

from . import services, throttle
from .forms import EMAIL_TAKEN, SignUpForm, TimeZoneForm
from .middleware import remember_time_zone


@login_not_required
@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("/")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_sign_up(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                time_zone=form.cleaned_data["time_zone"] or None,
            )
        except services.EmailTaken:
            form.add_error("email", EMAIL_TAKEN)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            remember_time_zone(request, form.cleaned_data["time_zone"] or settings.TIME_ZONE)
            messages.success(
                request,
                f"Welcome, {user.username}! Your account is ready. We have emailed {user.email} a link: "
                "follow it to confirm the address, and we will email you there.",
            )
            return redirect("/")
    return render(request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200)


@require_POST
def time_zone_update(request):
    """The time zone form of the Settings page. A zone we do not know is a 400 with the sentence."""
    form = TimeZoneForm(request.POST)
    if not form.is_valid():
        message = " ".join(str(e) for e in form.errors.get("time_zone", [])) or "Choose a time zone."
        if wants_json(request):
            return JsonResponse({"errors": {"time_zone": [message]}}, status=400)
        return render(request, "registration/time_zone_refused.html", {"message": message}, status=400)
    name = form.cleaned_data["time_zone"]
    services.time_zone_set(user=request.user, time_zone=name)
    remember_time_zone(request, name)
    if wants_json(request):
        return JsonResponse({"time_zone": name})
    messages.success(request, f"Your time zone is now {name.replace('_', ' ')}.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "/"
    return redirect(target or "/")


@login_not_required
@require_GET
@never_cache
def verify_email(request, token: str):
    """The link in the welcome email. The signed token is the proof, so no login is needed."""
    result = services.email_verify(token=token)
    return render(
        request,
        "registration/verify_email.html",
        {"verified": result.status == 200, "message": result.message},
        status=result.status,
    )


@require_POST
def verification_resend(request):
    if services.verification_resend(user=request.user):
        messages.success(request, f"We have emailed a new link to {request.user.email}.")
    else:
        messages.info(request, "Your address is confirmed already.")
    return redirect("/")


def too_many(request, wait: int, what: str):
    minutes = max(1, round(wait / 60))
    when = plural(minutes, "minute") if wait >= 90 else f"{wait} seconds"
    message = f"Too many {what} in a short time. To keep accounts safe, please try again in {when}."
    if wants_json(request):
        response = JsonResponse({"error": message, "retry_after": wait}, status=429)
    else:
        response = render(request, "registration/throttled.html", {"message": message}, status=429)
    response["Retry-After"] = str(wait)
    return response


def throttled_login(view):
    """Count every login POST against the account and the client address (a success gives its
    count back); beyond the limits, 429 until the window closes. For our login and the admin's."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        counters = throttle.login_counters(request, str(request.POST.get("username", "")))
        wait = throttle.attempt(counters)
        if wait:
            return too_many(request, wait, "login attempts")
        response = view(request, *args, **kwargs)
        if response.status_code == 302 and request.user.is_authenticated:
            throttle.give_back(counters)
        return response

    return wrapper


login_view = throttled_login(auth_views.LoginView.as_view())


class PasswordResetView(auth_views.PasswordResetView):
    """Django's form and pages; the email goes through the notifications queue instead of being
    sent from here, and only to a confirmed address (services.password_reset_request). The answer
    is the same whether or not the address is known. Requests are limited per address asked for
    and per client address."""

    # Ours, not the admin's (which comes first in INSTALLED_APPS and carries its breadcrumbs).
    template_name = "accounts/password_reset_form.html"

    def post(self, request, *args, **kwargs):
        counters = throttle.reset_counters(request, str(request.POST.get("email", "")))
        wait = throttle.attempt(counters)
        if wait:
            return too_many(request, wait, "password reset requests")
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        services.password_reset_request(email=form.cleaned_data["email"])
        return HttpResponseRedirect(self.get_success_url())


password_reset = login_not_required(PasswordResetView.as_view())
