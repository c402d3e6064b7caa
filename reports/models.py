import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.core.models import Job

# Every export file lives under this prefix: the cleanup deletes what no export row references.
STORAGE_PREFIX = "exports/"
# Shown for an export whose job ended without the export's own code settling it.
MESSAGE_STOPPED = "This export stopped unexpectedly. Please ask for it again."


def export_storage_name(extension: str = "xlsx") -> str:
    """Where an export's file goes: fixed per export (a re-run replaces it), unguessable."""
    return f"{STORAGE_PREFIX}{secrets.token_hex(16)}.{extension}"


class Format(models.TextChoices):
    XLSX = "xlsx", "Excel (.xlsx)"
    CSV = "csv", "CSV (.csv)"


class ReportSchedule(models.Model):
    """A person's recurring report: "every Monday at 08:00 in my time zone, email me …".

    Beat runs it: ``periodic_task`` is a django-celery-beat PeriodicTask (task
    ``reports.run_schedule``) on a CrontabSchedule in ``time_zone``, so staff see and can edit it in
    the admin like any schedule. This row says whose it is and what each run builds; its
    ``enabled`` is the periodic task's.
    """

    class Frequency(models.TextChoices):
        DAILY = "daily", "Every day"
        WEEKLY = "weekly", "Every week"
        MONTHLY = "monthly", "Every month"

    class Weekday(models.IntegerChoices):
        # Cron's numbering (0 = Sunday), as the CrontabSchedule stores it.
        MONDAY = 1, "Monday"
        TUESDAY = 2, "Tuesday"
        WEDNESDAY = 3, "Wednesday"
        THURSDAY = 4, "Thursday"
        FRIDAY = 5, "Friday"
        SATURDAY = 6, "Saturday"
        SUNDAY = 0, "Sunday"

    # After this many failed runs in a row the schedule pauses itself.
    MAX_FAILURES = 3

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_schedules"
    )
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", on_delete=models.CASCADE, related_name="report_schedule"
    )
    kind = models.CharField(max_length=32)
    format = models.CharField(max_length=4, choices=Format.choices, default=Format.XLSX)
    columns = models.JSONField(default=list, blank=True)
    filters = models.JSONField(default=dict, blank=True)
    frequency = models.CharField(max_length=8, choices=Frequency.choices)
    at = models.TimeField(help_text="Local time of each run, in time_zone.")
    day_of_week = models.PositiveSmallIntegerField(choices=Weekday.choices, default=Weekday.MONDAY)
    # 1-28: every month has it.
    day_of_month = models.PositiveSmallIntegerField(default=1)
    # Each run covers the range_days days that end on the day it runs (that day included).
    range_days = models.PositiveSmallIntegerField(default=7)
    time_zone = models.CharField(max_length=64)
    failures_in_a_row = models.PositiveSmallIntegerField(default=0)
    # Why it paused itself (shown on the reports page); empty when the owner paused it, or running.
    paused_reason = models.CharField(max_length=500, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.frequency} for {self.owner_id}"


class Export(models.Model):
    """One export (Excel or CSV) asked for by its owner; its Job row carries the task's progress."""

    class Kind(models.TextChoices):
        MEDIA_INVENTORY = "media_inventory", "Media inventory"
        JOB_HISTORY = "job_history", "Job history"
        DAILY_STATISTICS = "daily_statistics", "Daily statistics"

    class State(models.TextChoices):
        QUEUED = "QUEUED"
        STARTED = "STARTED"
        SUCCESS = "SUCCESS"
        FAILURE = "FAILURE"
        # Succeeded once; its file has since been removed by the cleanup job.
        EXPIRED = "EXPIRED"
        # Its owner cancelled it before it was built: no file (BuildExportTask.settle_cancel).
        CANCELLED = "CANCELLED"

    ACTIVE_STATES = (State.QUEUED, State.STARTED)
    STAFF_KINDS = (Kind.DAILY_STATISTICS,)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exports")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    format = models.CharField(max_length=4, choices=Format.choices, default=Format.XLSX)
    # Column keys in the order chosen; empty means all of the kind's columns, in its order.
    columns = models.JSONField(default=list, blank=True)
    # {"state": [...], "format": [...], "owner": "<username>"}: only filters the kind has.
    filters = models.JSONField(default=dict, blank=True)
    # The scheduled report that made this export, if any.
    schedule = models.ForeignKey(
        ReportSchedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="exports"
    )
    date_from = models.DateField(null=True, blank=True)
    date_to = models.DateField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    rows = models.PositiveIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    # Set only once the whole file is in storage; storage_name is where it goes.
    file = models.FileField(upload_to=STORAGE_PREFIX, max_length=200, blank=True)
    storage_name = models.CharField(max_length=200, default=export_storage_name, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    downloads = models.PositiveIntegerField(default=0)
    last_downloaded_at = models.DateTimeField(null=True, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Shown to the owner: a sentence, never a traceback.
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="export_owner_created"),
            models.Index(fields=["state", "expires_at"], name="export_state_expires"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} export {self.pk} ({self.state})"

    @property
    def status(self) -> str:
        """The state the owner sees: the job's while the export runs.

        The job row is settled on every path that ends a task (including a hard time limit or a
        lost worker, where this row could not be updated), so a still-active export whose job is
        final failed.
        """
        if self.state not in self.ACTIVE_STATES or self.job is None:
            return self.state
        if self.job.state == Job.State.CANCELLED:
            return self.State.CANCELLED
        if self.job.is_final:
            return self.State.FAILURE
        return self.job.state

    @property
    def status_error(self) -> str:
        if self.state in self.ACTIVE_STATES and self.job is not None and self.job.is_final:
            return self.job.error or MESSAGE_STOPPED
        return self.error

    @property
    def is_active(self) -> bool:
        return self.status in Job.ACTIVE_STATES

    @property
    def download_filename(self) -> str:
        day = timezone.localdate(self.finished_at or self.created_at)
        return f"{self.kind}-{day.isoformat()}.{self.format}"
