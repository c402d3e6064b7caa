"""The app's urls plus the bare baselines, mounted only under config.settings.bench."""

from django.urls import path

from config.urls import handler400, handler403, handler404, handler500  # noqa: F401
from config.urls import urlpatterns as app_urlpatterns

from . import views

urlpatterns = [
    path("bench/bare-upload/", views.bare_upload, name="bench_bare_upload"),
    path("bench/constant/", views.constant, name="bench_constant"),
    path("bench/constant-public/", views.constant_public, name="bench_constant_public"),
    *app_urlpatterns,
]
