"""Reads the views and the task need. A user's reads are scoped: someone else's row is None (404)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from .models import Image, Rendition, UploadBatch


def image_for_work(*, image_id: int) -> Image | None:
    """The image a task works on, or None if it was deleted meanwhile."""
    return Image.objects.select_related("job").filter(pk=image_id).first()


def image_for_user(*, user: AbstractBaseUser, image_id: int) -> Image | None:
    return (
        Image.objects.select_related("job")
        .prefetch_related("renditions")
        .filter(pk=image_id, owner_id=user.pk)
        .first()
    )


def images_for_user(*, user: AbstractBaseUser, batch_id: int | None = None) -> QuerySet[Image]:
    images = Image.objects.filter(owner_id=user.pk).select_related("job").prefetch_related("renditions")
    if batch_id is not None:
        images = images.filter(batch_id=batch_id)
    return images.order_by("-created_at", "-pk")


def batch_for_user(*, user: AbstractBaseUser, batch_id: int) -> UploadBatch | None:
    return UploadBatch.objects.filter(pk=batch_id, owner_id=user.pk).first()


def original_for_user(*, user: AbstractBaseUser, image_id: int) -> Image | None:
    return Image.objects.filter(pk=image_id, owner_id=user.pk).only("original", "original_format").first()


def rendition_for_user(*, user: AbstractBaseUser, image_id: int, name: str, format: str) -> Rendition | None:
    return Rendition.objects.filter(
        image_id=image_id, image__owner_id=user.pk, name=name, format=format
    ).first()
