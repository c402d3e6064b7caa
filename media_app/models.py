from __future__ import annotations

import posixpath
from uuid import uuid4

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.core.models import Job

# Every file this app writes lives under this prefix: the ops cleanup deletes what no row references.
STORAGE_PREFIX = "media/"


def original_upload_to(instance: Image, filename: str) -> str:
    """A random name: the uploaded file's own name is never used for storage.

    Only the extension survives, and the upload service derives it from the detected format.
    """
    ext = posixpath.splitext(filename)[1].lower()[:6]
    return f"{STORAGE_PREFIX}originals/{instance.owner_id}/{uuid4().hex}{ext}"


class UploadBatch(models.Model):
    """Several files sent in one upload: their owner is told once, when all of them are done."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="upload_batches"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Set by one conditional UPDATE when the "your images are ready" notification is sent.
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "upload batches"

    def __str__(self) -> str:
        return f"batch {self.pk} of {self.owner_id}"


class Image(models.Model):
    class State(models.TextChoices):
        PENDING = "PENDING"
        PROCESSING = "PROCESSING"
        READY = "READY"
        FAILED = "FAILED"
        # Its owner cancelled the job before it finished (CompressImageTask.settle_cancel).
        CANCELLED = "CANCELLED"

    FINAL_STATES = (State.READY, State.FAILED, State.CANCELLED)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images")
    title = models.CharField(max_length=200, blank=True)
    original = models.FileField(upload_to=original_upload_to, max_length=255)
    # From the file's header at upload (Pillow's format name); width and height as seen upright.
    original_format = models.CharField(max_length=10)
    original_width = models.PositiveIntegerField(default=0)
    original_height = models.PositiveIntegerField(default=0)
    original_bytes = models.PositiveBigIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    # Shown to the owner: a sentence, never a traceback.
    error = models.CharField(max_length=500, blank=True)
    # bytes_in: the original; bytes_out: the smallest "large" rendition, i.e. what replaces it.
    bytes_in = models.PositiveBigIntegerField(null=True, blank=True)
    bytes_out = models.PositiveBigIntegerField(null=True, blank=True)
    processing_ms = models.PositiveIntegerField(null=True, blank=True)
    batch = models.ForeignKey(
        UploadBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="images"
    )
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Set when its owner deletes it: hidden from then on (selectors), back on undo, and removed with
    # its files by the cleanup once MEDIA_DELETE_GRACE_SECONDS have passed (docs/deletion.md).
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Where the subject is, as fractions of the upright width and height (the centre by default):
    # square crops are cut around it. Set by the owner on the detail page.
    focal_x = models.FloatField(default=0.5)
    focal_y = models.FloatField(default=0.5)
    # The ThumbHash of the picture (base64, about 30 characters), made by the worker: pages show
    # it blurred until the real picture arrives.
    placeholder = models.CharField(max_length=64, blank=True)
    # SHA-256 of the uploaded bytes (hex): the same bytes uploaded again by the same owner reuse
    # this image's original and renditions instead of running the worker (services.image_upload).
    content_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="image_owner_created"),
            models.Index(fields=["state", "created_at"], name="image_state_created"),
            models.Index(fields=["owner", "content_sha256"], name="image_owner_content"),
            # The purge's scan: only the few deleted rows are in it.
            models.Index(
                fields=["deleted_at"], name="image_deleted_at", condition=models.Q(deleted_at__isnull=False)
            ),
            # The orphan sweep asks which of a thousand stored names a row still uses (issue 17:
            # without it, each batch read the whole table, 373 ms over 300k images).
            models.Index(fields=["original"], name="image_original"),
            # The gallery's page and its count read only live images, newest first: without the
            # condition, counting an owner's 100k images looked up every row for its deleted_at
            # (issue 17: the first page's p99 grew 1.9x over 100 images' on SQLite).
            models.Index(
                fields=["owner", "-created_at", "-id"],
                name="image_owner_live",
                condition=models.Q(deleted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.title or f"image {self.pk}"

    @property
    def current_state(self) -> str:
        """The state to show: the job row knows first when a worker died or hit its time limit."""
        if self.state in self.FINAL_STATES or self.job is None:
            return self.state
        if self.job.state == Job.State.FAILURE:
            return self.State.FAILED
        if self.job.state == Job.State.CANCELLED:
            return self.State.CANCELLED
        if self.job.state in (Job.State.STARTED, Job.State.PROGRESS, Job.State.RETRY):
            return self.State.PROCESSING
        return self.state

    @property
    def current_error(self) -> str:
        if self.error:
            return self.error
        if self.current_state in (self.State.FAILED, self.State.CANCELLED) and self.job is not None:
            return self.job.error
        return ""

    @property
    def saving_percent(self) -> float | None:
        if not self.bytes_in or self.bytes_out is None:
            return None
        return round(100 * (1 - self.bytes_out / self.bytes_in), 1)


# Each image state as the job state it reads like: pages, JSON and exports then share one set of
# words and colours (config.core.words, app.css's .state-*).
AS_JOB_STATE = {
    Image.State.PENDING: Job.State.QUEUED,
    Image.State.PROCESSING: Job.State.PROGRESS,
    Image.State.READY: Job.State.SUCCESS,
    Image.State.FAILED: Job.State.FAILURE,
    Image.State.CANCELLED: Job.State.CANCELLED,
}


class Rendition(models.Model):
    class Name(models.TextChoices):
        LARGE = "large"
        MEDIUM = "medium"
        SMALL = "small"
        THUMB = "thumb"
        # Cut around the focal point: gallery tiles.
        SQUARE = "square"

    class Format(models.TextChoices):
        JPEG = "JPEG"
        WEBP = "WEBP"
        PNG = "PNG"
        AVIF = "AVIF"

    EXTENSIONS = {Format.JPEG: "jpg", Format.WEBP: "webp", Format.PNG: "png", Format.AVIF: "avif"}
    CONTENT_TYPES = {
        Format.JPEG: "image/jpeg",
        Format.WEBP: "image/webp",
        Format.PNG: "image/png",
        Format.AVIF: "image/avif",
    }

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="renditions")
    name = models.CharField(max_length=16, choices=Name.choices)
    format = models.CharField(max_length=8, choices=Format.choices)
    file = models.FileField(max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    bytes = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["image", "-width", "format"]
        indexes = [models.Index(fields=["file"], name="rendition_file")]  # the orphan sweep's, as above
        constraints = [
            models.UniqueConstraint(fields=["image", "name", "format"], name="rendition_unique_name_format")
        ]

    def __str__(self) -> str:
        return f"{self.image_id} {self.name} {self.format}"

    @property
    def extension(self) -> str:
        return self.EXTENSIONS[self.format]

    @property
    def content_type(self) -> str:
        return self.CONTENT_TYPES[self.format]
