from django.http import HttpResponse, JsonResponse
from django.urls import path

app_name = "notifications"


def placeholder(request):  # replaced by issue 5
    return HttpResponse("Notifications: not built yet.")


urlpatterns = [
    path("", placeholder, name="index"),
    path("unread-count/", lambda r: JsonResponse({"unread": 0}), name="unread_count"),
    path("preferences/", placeholder, name="preferences"),
]
