from django.conf import settings
from django.urls import NoReverseMatch, reverse


def site(request):
    return {"SITE_NAME": settings.SITE_NAME}


# The header's sections, by URL name; the one whose address is the longest prefix of the page's
# path is the current one (aria-current="page"): /media/upload/ is Upload, /media/12/ is Photos.
NAV = (
    ("photos", "media_app:gallery"),
    ("upload", "media_app:upload"),
    ("reports", "reports:index"),
    ("notifications", "notifications:index"),
    ("dashboard", "ops:dashboard"),
    ("settings", "notifications:preferences"),
)


def nav(request):
    current, best = None, 0
    for section, name in NAV:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        if request.path.startswith(url) and len(url) > best:
            current, best = section, len(url)
    return {"nav_current": current}
