from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.utils.html import format_html

from . import errors, services, words
from .audit import audited
from .humanize import duration_ms
from .models import Job

admin.site.site_header = f"{settings.SITE_NAME} administration"
admin.site.site_title = f"{settings.SITE_NAME} administration"
admin.site.index_title = "Jobs, schedules and accounts"


class OurAdmin(admin.ModelAdmin):
    """What each ModelAdmin of ours adds to the stock admin pages: our stylesheet (breadcrumb links
    told apart from their text by more than colour) and names for the two halves of a split
    date-and-time field, whose field label points at neither."""

    class Media:
        css = {"all": ["core/admin.css"]}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        widget = getattr(field, "widget", None)
        if isinstance(widget, forms.SplitDateTimeWidget):
            label = str(field.label or db_field.verbose_name)
            widget.widgets[0].attrs.setdefault("aria-label", f"{label}: date")
            widget.widgets[1].attrs.setdefault("aria-label", f"{label}: time")
        return field


class WorkFilter(admin.SimpleListFilter):
    """People's jobs by default; the system's own periodic jobs (cleanup, statistics, re-dispatch)
    only when asked for, so they do not bury the uploads and exports."""

    title = "work"
    parameter_name = "work"

    def lookups(self, request, model_admin):
        return [("people", "People's jobs"), ("housekeeping", "Housekeeping"), ("all", "All")]

    def choices(self, changelist):
        value = self.value() or "people"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "people"
        if value == "people":
            return queryset.exclude(kind__in=words.housekeeping_kinds())
        if value == "housekeeping":
            return queryset.filter(kind__in=words.housekeeping_kinds())
        return queryset


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return words.kind_choices()

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(Job)
class JobAdmin(OurAdmin):
    # Six narrow columns: the list fits a 1366 px screen without sideways scrolling.
    list_display = ("short_id", "kind_name", "owner", "state_pill", "duration", "error_excerpt")
    list_display_links = ("short_id",)
    list_filter = (WorkFilter, "state", KindFilter, "created_at")
    search_fields = ("task_id", "owner__username", "error")
    readonly_fields = ["can_retry", *(f.name for f in Job._meta.fields)]
    actions = ["retry_failed", "cancel_active"]
    list_select_related = ("owner",)

    def has_add_permission(self, request):
        return False  # jobs are made by the services that send them, never by hand

    @admin.display(description="id", ordering="task_id")
    def short_id(self, job: Job) -> str:
        return job.task_id[:8]

    @admin.display(description="kind", ordering="kind")
    def kind_name(self, job: Job) -> str:
        return words.kind_name(job.kind)

    @admin.display(description="state", ordering="state")
    def state_pill(self, job: Job) -> str:
        return words.state_word(job.state)

    @admin.display(description="duration")
    def duration(self, job: Job) -> str:
        if not job.started_at:
            return "—"
        if not job.finished_at:
            return "running"
        return duration_ms((job.finished_at - job.started_at).total_seconds() * 1000)

    @admin.display(description="error")
    def error_excerpt(self, job: Job) -> str:
        text = job.error or ""
        return text if len(text) <= 60 else text[:59] + "…"

    @admin.display(description="Can it be retried?")
    def can_retry(self, job: Job) -> str:
        if job.state != Job.State.FAILURE:
            return "Only failed jobs are retried."
        reason = errors.why_not_retryable(job.error)
        if reason is None:
            return format_html("Yes: {}", "this failure can pass on another run.")
        return format_html("No: {}", reason)

    @admin.action(description="Retry the selected failed jobs")
    @audited
    def retry_failed(self, request, queryset):
        failed = list(queryset.filter(state=Job.State.FAILURE))
        can = [job for job in failed if errors.why_not_retryable(job.error) is None]
        cannot = [job for job in failed if job not in can]
        count = services.jobs_retry(jobs=can)
        if count or not cannot:
            self.message_user(request, f"{count} failed job(s) re-queued.", messages.SUCCESS)
        if cannot:
            self.message_user(
                request,
                f"{len(cannot)} not retried: {errors.why_not_retryable(cannot[0].error)} "
                f"(job {cannot[0].task_id[:8]}: “{cannot[0].error[:80]}”).",
                messages.WARNING,
            )

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
class LogEntryAdmin(OurAdmin):
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
