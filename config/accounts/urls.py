"""Mounted at accounts/ without a namespace: Django's auth views and LOGIN_URL use these names."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from . import views

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("settings/time-zone/", views.time_zone_update, name="time_zone_update"),
    path("verify/resend/", views.verification_resend, name="verification_resend"),
    path("verify/<str:token>/", views.verify_email, name="verify_email"),
    # Before Django's auth URLs, so these win over its views of the same name and path.
    path("login/", views.login_view, name="login"),
    path("password_reset/", views.password_reset, name="password_reset"),
    # The rest of the reset flow in the site's own pages.
    path(
        "password_reset/done/",
        login_not_required(
            auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html")
        ),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        login_not_required(
            auth_views.PasswordResetConfirmView.as_view(template_name="accounts/password_reset_confirm.html")
        ),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        login_not_required(
            auth_views.PasswordResetCompleteView.as_view(
                template_name="accounts/password_reset_complete.html"
            )
        ),
        name="password_reset_complete",
    ),
    path("", include("django.contrib.auth.urls")),
]
