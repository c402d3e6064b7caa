from django.conf import settings
from django.db import models
from django.utils import timezone


class Kind(models.TextChoices):
    """What a notification is about; email preferences are kept per kind."""

    WELCOME = "welcome", "Welcome and account"
    IMAGES_READY = "images_ready", "Your images are ready"
    IMAGES_FAILED = "images_failed", "Some images could not be processed"
    EXPORT_READY = "export_ready", "Your export is ready"
    EXPORT_FAILED = "export_failed", "Your export failed"
    GENERAL = "general", "Other news about your account"
    PASSWORD_RESET = "password_reset", "Password reset"


# Security emails: always sent (to a confirmed address), whatever the preferences say.
ALWAYS_EMAILED = frozenset({Kind.PASSWORD_RESET})


class EmailState(models.TextChoices):
    NONE = "none", "No email"  # the account has no usable email address
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Off in preferences"


class Notification(models.Model):
    """One thing we told a user. In-app always; by email when their preferences say so.

    The email_* fields are the record of the send: a task delivered twice finds ``sent`` (or
    ``sending``, claimed by a live execution) and sends nothing.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=1000, blank=True)
    # Optional caller key ("batch:42") so one event notifies once even if its task runs twice.
    key = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    email_state = models.CharField(max_length=8, choices=EmailState.choices, default=EmailState.NONE)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    # When the current execution claimed the send; a stale claim means its process died.
    email_claimed_at = models.DateTimeField(null=True, blank=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    # Shown to the owner and in the admin: a sentence, never a traceback.
    email_error = models.CharField(max_length=500, blank=True)
    email_message_id = models.CharField(max_length=255, blank=True)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The badge: COUNT(*) WHERE recipient_id = ? AND read_at IS NULL.
            models.Index(fields=["recipient", "read_at"], name="notif_recipient_read"),
            models.Index(fields=["recipient", "-created_at"], name="notif_recipient_created"),
            models.Index(fields=["email_state", "created_at"], name="notif_email_state"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "kind", "key"],
                condition=~models.Q(key=""),
                name="notif_unique_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class Preference(models.Model):
    """A user's choice of email for one kind. No row means the default (email on)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    email_enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notif_pref_user_kind")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {'on' if self.email_enabled else 'off'}"
