"""Deleting an image is soft first (docs/deletion.md): gone for its owner at once, back on undo,
purged with its files by the cleanup after MEDIA_DELETE_GRACE_SECONDS, and a file another row
still uses survives the purge."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import F

from config.ops import services as ops_services
from media_app import services
from media_app.models import Image, Rendition
from tests.helpers import HTML, JSON

pytestmark = pytest.mark.django_db(transaction=True)

OLD = time.time() - 3 * 24 * 3600


def stored(name: str, data: bytes) -> str:
    """A file on the real storage, old enough for the orphan sweep to consider it."""
    name = default_storage.save(name, ContentFile(data))
    os.utime(default_storage.path(name), (OLD, OLD))
    return name


def ready_image(user, *, original: str | None = None, large: str | None = None) -> Image:
    """A processed image with its original and one rendition; either file may be shared."""
    run = uuid.uuid4().hex[:8]
    original = original or stored(f"media/originals/{user.pk}/{run}.jpg", b"o" * 500)
    image = Image.objects.create(
        owner=user, original=original, original_format="JPEG", state=Image.State.READY, title=run
    )
    large = large or stored(f"media/renditions/{user.pk}/{image.pk}/{run}/large.jpg", b"l" * 200)
    Rendition.objects.create(
        image=image, name="large", format="JPEG", file=large, width=10, height=10, bytes=200
    )
    return image


def files_of(image: Image) -> list[str]:
    return [image.original.name, *image.renditions.values_list("file", flat=True)]


def past_grace(*images: Image) -> None:
    """Move the deletes back in time, past the grace period."""
    Image.objects.filter(pk__in=[i.pk for i in images]).update(
        deleted_at=F("deleted_at") - timedelta(seconds=settings.MEDIA_DELETE_GRACE_SECONDS + 1)
    )


def urls(pk: int) -> list[str]:
    return [f"/media/{pk}/", f"/media/{pk}/original", f"/media/{pk}/large.jpg"]


def test_a_deleted_image_is_gone_for_its_owner_and_undo_brings_it_back(owner_client, user, other_user):
    image = ready_image(user)
    files = files_of(image)
    for url in urls(image.pk):
        assert owner_client.get(url, **JSON).status_code == 200, url

    assert owner_client.post(f"/media/{image.pk}/delete/", **JSON).status_code == 204

    for url in urls(image.pk):
        assert owner_client.get(url, **JSON).status_code == 404, url
        assert owner_client.get(url, **HTML).status_code == 404, url
    assert image.pk not in [i["id"] for i in owner_client.get("/media/", **JSON).json()["images"]]
    assert owner_client.post(f"/media/{image.pk}/delete/", **JSON).status_code == 404  # once
    assert all(default_storage.exists(n) for n in files)  # kept for the undo

    assert services.image_restore(user=other_user, image_id=image.pk) is False  # not theirs
    assert services.image_restore(user=user, image_id=image.pk) is True
    for url in urls(image.pk):
        assert owner_client.get(url, **JSON).status_code == 200, url
    assert owner_client.get(f"/media/{image.pk}/", **JSON).json()["state"] == "READY"
    assert services.image_restore(user=user, image_id=image.pk) is False  # nothing left to undo

    # Past the grace period there is no undo, whether or not the purge has run yet.
    services.image_delete(image=image)
    past_grace(image)
    assert services.image_restore(user=user, image_id=image.pk) is False
    assert owner_client.get(f"/media/{image.pk}/", **JSON).status_code == 404


def test_the_cleanup_purges_a_deleted_image_and_its_files_after_the_grace_period(owner_client, user):
    image = ready_image(user)
    files = files_of(image)
    assert owner_client.post(f"/media/{image.pk}/delete/", **HTML).status_code == 303

    # Within the grace period: neither the purge nor the orphan sweep touches row or files.
    summary = ops_services.cleanup_run()
    assert summary["images_purged"] == 0
    assert Image.objects.filter(pk=image.pk).exists()
    assert all(default_storage.exists(n) for n in files)

    past_grace(image)
    summary = ops_services.cleanup_run()

    assert summary["images_purged"] == 1
    assert not Image.objects.filter(pk=image.pk).exists()
    assert not Rendition.objects.filter(image_id=image.pk).exists()
    assert [n for n in files if default_storage.exists(n)] == []
    assert summary["files_deleted"] >= 2 and summary["bytes_freed"] >= 500 + 200


def test_a_file_another_row_still_uses_survives_the_purge(owner_client, user):
    """Duplicate uploads may share stored files: a file goes only when no row uses it any more."""
    first = ready_image(user)
    shared_original, shared_large = files_of(first)
    live = ready_image(user, original=shared_original, large=shared_large)
    undoable = ready_image(user, original=shared_original)
    undoable_large = files_of(undoable)[1]

    services.image_delete(image=first)
    services.image_delete(image=undoable)
    past_grace(first)
    done = services.images_purge_deleted()

    assert done["images"] == 1 and not Image.objects.filter(pk=first.pk).exists()
    assert default_storage.exists(shared_original) and default_storage.exists(shared_large)
    assert owner_client.get(f"/media/{live.pk}/original", **JSON).status_code == 200
    assert owner_client.get(f"/media/{live.pk}/large.jpg", **JSON).status_code == 200
    # A row deleted but still undoable keeps its files too, and its undo finds them.
    assert services.image_restore(user=user, image_id=undoable.pk) is True
    assert owner_client.get(f"/media/{undoable.pk}/original", **JSON).status_code == 200

    # Once the last row that uses them is purged, the shared files go.
    for image in (live, undoable):
        services.image_delete(image=image)
    past_grace(live, undoable)
    done = services.images_purge_deleted()
    assert done["images"] == 2
    for name in (shared_original, shared_large, undoable_large):
        assert not default_storage.exists(name), name
