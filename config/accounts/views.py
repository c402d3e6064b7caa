from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import services
from .forms import EMAIL_TAKEN, SignUpForm


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
            )
        except services.EmailTaken:
            form.add_error("email", EMAIL_TAKEN)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                f"Welcome, {user.username}! Your account is ready. We have emailed {user.email} a link: "
                "follow it to confirm the address, and we will email you there.",
            )
            return redirect("/")
    return render(request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200)


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


class PasswordResetView(auth_views.PasswordResetView):
    """Django's form and pages; the email goes through the notifications queue instead of being
    sent from here, and only to a confirmed address (services.password_reset_request). The answer
    is the same whether or not the address is known."""

    def form_valid(self, form):
        services.password_reset_request(email=form.cleaned_data["email"])
        return HttpResponseRedirect(self.get_success_url())


password_reset = login_not_required(PasswordResetView.as_view())
