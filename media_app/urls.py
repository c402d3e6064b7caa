from django.urls import path

from . import views

app_name = "media_app"

urlpatterns = [
    path("", views.gallery, name="gallery"),
    path("upload/", views.upload, name="upload"),
    path("delete/", views.delete_many, name="delete_many"),
    path("restore/", views.restore_many, name="restore_many"),
    path("<id:pk>/", views.detail, name="detail"),
    path("<id:pk>/delete/", views.delete, name="delete"),
    path("<id:pk>/focus/", views.focus, name="focus"),
    path("<id:pk>/rename/", views.rename, name="rename"),
    path("<id:pk>/restore/", views.restore, name="restore"),
    path("<id:pk>/original", views.original, name="original"),
    path("<id:pk>/<slug:name>.<slug:ext>", views.rendition, name="rendition"),
]
