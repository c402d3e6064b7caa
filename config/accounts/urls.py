"""Mounted at accounts/ without a namespace: Django's auth views and LOGIN_URL use these names."""

from django.urls import include, path

from . import views

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("", include("django.contrib.auth.urls")),
]
