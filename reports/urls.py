from django.urls import path

from . import views

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
    path("exports/", views.export_create, name="export_create"),
    path("exports/<id:export_id>/", views.export_status, name="export_status"),
    path("exports/<id:export_id>/download/<str:token>/", views.export_download, name="download"),
    path("schedules/", views.schedule_create, name="schedule_create"),
    path("schedules/<id:schedule_id>/", views.schedule_edit, name="schedule_edit"),
    path("schedules/<id:schedule_id>/pause/", views.schedule_pause, name="schedule_pause"),
    path("schedules/<id:schedule_id>/resume/", views.schedule_resume, name="schedule_resume"),
    path("schedules/<id:schedule_id>/delete/", views.schedule_delete, name="schedule_delete"),
]
