from django.contrib import admin
from django.urls import include, path

from config.accounts.views import throttled_login
from config.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("accounts/", include("config.accounts.urls")),
    path("tasks/<str:task_id>/", core_views.task_status, name="task_status"),
    path("tasks/<str:task_id>/cancel/", core_views.task_cancel, name="task_cancel"),
    path("healthz", core_views.healthz, name="healthz"),
    path("media/", include("media_app.urls")),
    path("reports/", include("reports.urls")),
    path("notifications/", include("notifications.urls")),
    path("ops/", include("config.ops.urls")),
    # The admin's own login view, throttled like ours; before admin.site.urls so this one answers.
    path("admin/login/", throttled_login(admin.site.login)),
    path("admin/", admin.site.urls),
]

handler400 = "config.core.views.bad_request"
handler403 = "config.core.views.permission_denied"
handler404 = "config.core.views.page_not_found"
handler500 = "config.core.views.server_error"
