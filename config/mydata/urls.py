from django.urls import path

from . import views

app_name = "mydata"
urlpatterns = [
    path("", views.index, name="index"),
    path("archive/", views.archive_request, name="archive"),
    path("archive/<id:pk>/<str:token>/", views.download, name="download"),
    path("delete/", views.account_delete, name="delete"),
]
