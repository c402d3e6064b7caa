from django.urls import path

from . import views

app_name = "ops"
urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/now/", views.dashboard_now, name="dashboard_now"),
]
