"""Mounted at accounts/ without a namespace: Django's auth views and LOGIN_URL use these names."""

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
    path("", include("django.contrib.auth.urls")),
]
