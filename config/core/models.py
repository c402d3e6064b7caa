from django.conf import settings
from django.db import models
from django.utils import timezone


class Job(models.Model):
    """One unit of background work, as its owner sees it.

    Written in the same transaction as the business row that needs it, before its task is sent; the
    task id is ours, so the view can answer with it at once. State only moves forward: once SUCCESS,
    FAILURE or CANCELLED, nothing changes it.
    """

    class State(models.TextChoices):
        QUEUED = "QUEUED"
        STARTED = "STARTED"
        PROGRESS = "PROGRESS"
        RETRY = "RETRY"
        SUCCESS = "SUCCESS"
        FAILURE = "FAILURE"
        # Its owner cancelled it while it was queued or running (config.core.services.job_cancel).
        CANCELLED = "CANCELLED"

    FINAL_STATES = (State.SUCCESS, State.FAILURE, State.CANCELLED)
    ACTIVE_STATES = (State.QUEUED, State.STARTED, State.PROGRESS, State.RETRY)

    task_id = models.CharField(max_length=36, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="jobs",
    )
    kind = models.CharField(max_length=64)
    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    # How its message is sent (queue, priority, eta), kept so a re-dispatch sends it the same way.
    send_options = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    progress_current = models.PositiveIntegerField(null=True, blank=True)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    # Shown to the owner: a sentence, never a traceback (that goes to the log and TaskResult).
    error = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Executions that never reported back: their process died (OOM, SIGKILL, segfault).
    interrupted = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="job_owner_created"),
            models.Index(fields=["state", "sent_at"], name="job_state_sent"),
            models.Index(fields=["kind", "state"], name="job_kind_state"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.task_id} {self.state}"

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None
