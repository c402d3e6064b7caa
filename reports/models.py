import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.core.models import Job

# Every export file lives under this prefix: the cleanup deletes what no export row references.
STORAGE_PREFIX = "exports/"
# Shown for an export whose job ended without the export's own code settling it.
MESSAGE_STOPPED = "This export stopped unexpectedly. Please ask for it again."


def export_storage_name() -> str:
    """Where an export's file goes: fixed per export (a re-run replaces it), unguessable."""
    return f"{STORAGE_PREFIX}{secrets.token_hex(16)}.xlsx"


class Export(models.Model):
    """One Excel export asked for by its owner; its Job row carries the task's progress."""

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
        return f"{self.kind}-{day.isoformat()}.xlsx"
