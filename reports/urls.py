from django.urls import path

from . import views

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
    path("exports/", views.export_create, name="export_create"),
    path("exports/<id:export_id>/", views.export_status, name="export_status"),
    path("exports/<id:export_id>/download/<str:token>/", views.export_download, name="download"),
]
