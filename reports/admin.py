from django.contrib import admin

from .models import Export, ReportSchedule


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "owner", "state", "rows", "bytes", "downloads", "created_at", "expires_at")
    list_filter = ("state", "kind", "created_at")
    search_fields = ("owner__username", "error")
    list_select_related = ("owner",)
    raw_id_fields = ("owner", "job")
    readonly_fields = [
        "owner",
        "kind",
        "format",
        "columns",
        "filters",
        "schedule",
        "date_from",
        "date_to",
        "state",
        "rows",
        "bytes",
        "file",
        "storage_name",
        "downloads",
        "last_downloaded_at",
        "job",
        "error",
        "created_at",
        "finished_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # exports are asked for on the reports page; an added one would have no owner


@admin.register(ReportSchedule)
class ReportScheduleAdmin(admin.ModelAdmin):
    """Staff see every person's scheduled reports; the timing itself is the linked periodic task's
    (django-celery-beat's admin), where it can be edited or run now."""

    list_display = ("id", "owner", "kind", "format", "frequency", "at", "time_zone", "enabled")
    list_filter = ("kind", "format", "frequency", "periodic_task__enabled")
    search_fields = ("owner__username", "paused_reason")
    list_select_related = ("owner", "periodic_task")
    raw_id_fields = ("owner", "periodic_task")
    readonly_fields = ("owner", "periodic_task", "failures_in_a_row", "paused_reason", "last_run_at")

    @admin.display(boolean=True, ordering="periodic_task__enabled")
    def enabled(self, obj) -> bool:
        return obj.periodic_task.enabled

    def has_add_permission(self, request) -> bool:
        return False  # made on the reports page by their owner
