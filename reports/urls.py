from django.http import HttpResponse
from django.urls import path

app_name = "reports"


def placeholder(request):  # replaced by issue 4
    return HttpResponse("Reports: not built yet.")


urlpatterns = [path("", placeholder, name="index")]
