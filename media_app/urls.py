from django.urls import path

from . import views

app_name = "media_app"

urlpatterns = [
    path("", views.gallery, name="gallery"),
    path("upload/", views.upload, name="upload"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("<int:pk>/original", views.original, name="original"),
    path("<int:pk>/<slug:name>.<slug:ext>", views.rendition, name="rendition"),
]
