from django.urls import path

from . import views

app_name = "ops"
urlpatterns = [path("dashboard/", views.dashboard, name="dashboard")]
