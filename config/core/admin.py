from django.contrib import admin, messages

from . import services
from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("task_id", "kind", "owner", "state", "attempts", "created_at", "finished_at", "error")
    list_filter = ("state", "kind", "created_at")
    search_fields = ("task_id", "owner__username", "error")
    readonly_fields = [f.name for f in Job._meta.fields]
    actions = ["retry_failed"]

    @admin.action(description="Retry the selected failed jobs")
    def retry_failed(self, request, queryset):
        count = services.jobs_retry(jobs=list(queryset.filter(state=Job.State.FAILURE)))
        self.message_user(request, f"{count} failed job(s) re-queued.", messages.SUCCESS)
