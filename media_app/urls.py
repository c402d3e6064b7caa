from django.http import HttpResponse
from django.urls import path

app_name = "media_app"


def placeholder(request):  # replaced by issue 3
    return HttpResponse("Photos: not built yet.")


urlpatterns = [
    path("", placeholder, name="gallery"),
    path("upload/", placeholder, name="upload"),
]
