from django.db import models


class DailyStatistics(models.Model):
    """One row a day, recomputed from scratch on every run: re-running a day never double counts."""

    day = models.DateField(unique=True)
    uploads = models.PositiveIntegerField(default=0)
    bytes_in = models.BigIntegerField(default=0)
    bytes_out = models.BigIntegerField(default=0)
    # Input minus output of the images that were processed (a failed upload saves nothing).
    bytes_saved = models.BigIntegerField(default=0)
    saving_percent = models.FloatField(default=0.0)
    processing_p50_ms = models.PositiveIntegerField(null=True, blank=True)
    processing_p95_ms = models.PositiveIntegerField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)
    failures_by_reason = models.JSONField(default=dict, blank=True)
    exports = models.PositiveIntegerField(default=0)
    emails_sent = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day"]
        verbose_name_plural = "daily statistics"

    def __str__(self) -> str:
        return f"statistics {self.day}"
