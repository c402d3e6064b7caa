"""Reads the views and the task need. A user's reads are scoped: someone else's row is None (404)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet, Sum
from django.utils import timezone

from config.core.models import Job
from config.core.words import state_word
from config.ops.services import percentile_of

from .models import AS_JOB_STATE, Image, Rendition, UploadBatch


def image_state_word(state: str) -> str:
    """The word people read for an image state ("READY" → "Ready"), as for a job."""
    return state_word(AS_JOB_STATE.get(state, state))


def live_images() -> QuerySet[Image]:
    """Images not deleted by their owner: every read for people starts here (docs/deletion.md)."""
    return Image.objects.filter(deleted_at__isnull=True)


def image_for_work(*, image_id: int) -> Image | None:
    """The image a task works on, or None if it was removed meanwhile.

    A deleted image still in its grace period is worked on: its owner may bring it back.
    """
    return Image.objects.select_related("job").filter(pk=image_id).first()


def image_for_user(*, user: AbstractBaseUser, image_id: int) -> Image | None:
    return (
        live_images()
        .select_related("job")
        .prefetch_related("renditions")
        .filter(pk=image_id, owner_id=user.pk)
        .first()
    )


def deleted_image_for_user(*, user: AbstractBaseUser, image_id: int) -> Image | None:
    """The owner's image deleted within the grace period: its old links say so and offer the undo."""
    since = timezone.now() - timedelta(seconds=settings.MEDIA_DELETE_GRACE_SECONDS)
    return (
        Image.objects.filter(pk=image_id, owner_id=user.pk, deleted_at__gt=since)
        .only("pk", "title", "deleted_at")
        .first()
    )


def images_for_user(*, user: AbstractBaseUser, batch_id: int | None = None) -> QuerySet[Image]:
    images = live_images().filter(owner_id=user.pk).select_related("job").prefetch_related("renditions")
    if batch_id is not None:
        images = images.filter(batch_id=batch_id)
    return images.order_by("-created_at", "-pk")


def images_of_owner(*, owner_id: int) -> QuerySet[Image]:
    """An owner's images as other apps may read them (the media inventory export)."""
    return live_images().filter(owner_id=owner_id)


def image_same_bytes(*, owner_id: int, digest: str) -> Image | None:
    """The owner's first live, READY image made from these bytes by a job that succeeded: what a
    new upload of them can reuse. Only this owner's images: nothing is ever shared across owners."""
    return (
        live_images()
        .filter(
            owner_id=owner_id, content_sha256=digest, state=Image.State.READY, job__state=Job.State.SUCCESS
        )
        .order_by("pk")
        .first()
    )


def batch_for_user(*, user: AbstractBaseUser, batch_id: int) -> UploadBatch | None:
    return UploadBatch.objects.filter(pk=batch_id, owner_id=user.pk).first()


def original_for_user(*, user: AbstractBaseUser, image_id: int) -> Image | None:
    return live_images().filter(pk=image_id, owner_id=user.pk).only("original", "original_format").first()


def rendition_for_user(*, user: AbstractBaseUser, image_id: int, name: str, format: str) -> Rendition | None:
    return Rendition.objects.filter(
        image_id=image_id, image__owner_id=user.pk, image__deleted_at__isnull=True, name=name, format=format
    ).first()


def images_to_purge(*, before: datetime, limit: int = 1000) -> list[int]:
    """Ids of images deleted before ``before``: their undo period is over."""
    deleted = Image._base_manager.filter(deleted_at__lt=before).order_by("deleted_at", "pk")
    return list(deleted.values_list("pk", flat=True)[:limit])


# --- for the ops jobs (registered in ops.py) ------------------------------------------------------


def files_referenced(names: list[str]) -> set[str]:
    """Which of these stored names a row still uses, soft-deleted rows included (they may come back)."""
    used = set(Image._base_manager.filter(original__in=names).values_list("original", flat=True))
    used.update(Rendition._base_manager.filter(file__in=names).values_list("file", flat=True))
    return used


def daily_figures(start: datetime, end: datetime) -> dict[str, Any]:
    """Uploads of [start, end), the bytes they saved and how long they took."""
    day = Image._base_manager.filter(created_at__gte=start, created_at__lt=end)
    figures: dict[str, Any] = {"uploads": day.count(), "bytes_in": day.aggregate(n=Sum("bytes_in"))["n"] or 0}
    # Saving is measured on the images that were processed: a failed one has no output to compare.
    processed = day.filter(bytes_out__isnull=False, bytes_in__gt=0)
    sums = processed.aggregate(i=Sum("bytes_in"), o=Sum("bytes_out"))
    figures["bytes_out"] = sums["o"] or 0
    if sums["i"]:
        figures["bytes_saved"] = sums["i"] - figures["bytes_out"]
        figures["saving_percent"] = round(100 * figures["bytes_saved"] / sums["i"], 1)
    times = day.filter(processing_ms__isnull=False).values_list("processing_ms", flat=True)
    figures["processing_p50_ms"] = percentile_of(times, 50)
    figures["processing_p95_ms"] = percentile_of(times, 95)
    return figures


def failure_reasons(start: datetime, end: datetime) -> list[str]:
    """Images uploaded in [start, end) that failed without a failed job (one with a failed job is
    counted once, through its job)."""
    failed = Image._base_manager.filter(
        state=Image.State.FAILED, created_at__gte=start, created_at__lt=end
    ).exclude(job__state=Job.State.FAILURE)
    return list(failed.values_list("error", flat=True))


def images_unsettled(*, after_pk: int = 0, limit: int = 1000) -> list[Image]:
    """Images still PENDING or PROCESSING whose job is final: their failure hook never ran (or
    broke). Oldest first, from ``after_pk``."""
    return list(
        Image._base_manager.filter(
            pk__gt=after_pk,
            state__in=(Image.State.PENDING, Image.State.PROCESSING),
            job__state__in=Job.FINAL_STATES,
        )
        .select_related("job")
        .order_by("pk")[:limit]
    )
