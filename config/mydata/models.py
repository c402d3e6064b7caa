import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.core.models import Job

STORAGE_PREFIX = "mydata/"


def archive_storage_name() -> str:
    return f"{STORAGE_PREFIX}{secrets.token_hex(16)}.zip"


class Archive(models.Model):
    """Everything Backroom holds about its owner, as one zip built on the reports worker."""

    class State(models.TextChoices):
        QUEUED = "QUEUED"
        SUCCESS = "SUCCESS"
        FAILURE = "FAILURE"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="archives")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    file = models.FileField(max_length=200, blank=True)
    storage_name = models.CharField(max_length=200, default=archive_storage_name, editable=False)
    bytes = models.BigIntegerField(default=0)
    entries = models.PositiveIntegerField(default=0)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"archive {self.pk} of {self.owner_id} ({self.state})"
