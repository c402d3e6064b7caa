"""The site's URLs plus one page that breaks the policy on purpose (tests/browser/test_policy.py).

Only a test that sets ROOT_URLCONF to this module serves it.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns

PLANTED = """<!doctype html><html><head><title>planted</title></head><body>
<p id="styled" style="color: rgb(255, 0, 0)">An inline style attribute.</p>
<script>document.title = "inline script ran";</script>
</body></html>"""


@login_not_required
def planted(request):
    return HttpResponse(PLANTED)


urlpatterns = [path("planted-violation/", planted), *site_urlpatterns]
handler400 = "config.core.views.bad_request"
handler403 = "config.core.views.permission_denied"
handler404 = "config.core.views.page_not_found"
handler500 = "config.core.views.server_error"
