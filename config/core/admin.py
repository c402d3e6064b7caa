from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry

from . import services
from .audit import audited
from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("task_id", "kind", "owner", "state", "attempts", "created_at", "finished_at", "error")
    list_filter = ("state", "kind", "created_at")
    search_fields = ("task_id", "owner__username", "error")
    readonly_fields = [f.name for f in Job._meta.fields]
    actions = ["retry_failed", "cancel_active"]

    @admin.action(description="Retry the selected failed jobs")
    @audited
    def retry_failed(self, request, queryset):
        count = services.jobs_retry(jobs=list(queryset.filter(state=Job.State.FAILURE)))
        self.message_user(request, f"{count} failed job(s) re-queued.", messages.SUCCESS)

    @admin.action(description="Cancel the selected queued or running jobs")
    @audited
    def cancel_active(self, request, queryset):
        cancelled, late = 0, 0
        for job in queryset.filter(state__in=Job.ACTIVE_STATES):
            try:
                services.job_cancel(job=job)
                cancelled += 1
            except services.JobAlreadyFinished:
                late += 1
        self.message_user(request, f"{cancelled} job(s) cancelled, {late} finished first.", messages.SUCCESS)


@admin.register(LogEntry)
class LogEntryAdmin(admin.ModelAdmin):
    """The audit trail (config/core/audit.py): who did what to which object, and how it went.
    Never editable: no add, change or delete, for anyone."""

    list_display = ("action_time", "user", "action_flag", "content_type", "object_repr", "change_message")
    list_filter = ("action_time", "action_flag", "content_type", ("user", admin.RelatedOnlyFieldListFilter))
    search_fields = ("object_repr", "change_message", "user__username")
    date_hierarchy = "action_time"
    readonly_fields = [f.name for f in LogEntry._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
