"""What the media app holds about a person (mydata.registry): their pictures, originals and
renditions, soft-deleted ones included (they are still kept)."""

from __future__ import annotations

from config.mydata.registry import Holding, registry
from config.mydata.services import json_holding

from .models import Image, Rendition


def _storage():
    return Image._meta.get_field("original").storage


@registry.holdings("media_app.pictures")
def pictures(user) -> list[Holding]:
    storage = _storage()
    images = Image._base_manager.filter(owner_id=user.pk).prefetch_related("renditions").order_by("pk")
    out: list[Holding] = []
    listing = []
    for image in images:
        ext = image.original.name.rsplit(".", 1)[-1] if "." in image.original.name else "bin"
        out.append(
            Holding(path=f"pictures/{image.pk}/original.{ext}", storage=storage, name=image.original.name)
        )
        for r in image.renditions.all():
            out.append(
                Holding(path=f"pictures/{image.pk}/{r.name}.{r.extension}", storage=storage, name=r.file.name)
            )
        listing.append(
            {
                "id": image.pk,
                "title": image.title,
                "state": image.state,
                "format": image.original_format,
                "width": image.original_width,
                "height": image.original_height,
                "bytes": image.original_bytes,
                "created_at": image.created_at,
                "deleted_at": image.deleted_at,
                "renditions": [
                    {
                        "name": r.name,
                        "format": r.format,
                        "width": r.width,
                        "height": r.height,
                        "bytes": r.bytes,
                    }
                    for r in image.renditions.all()
                ],
            }
        )
    return [json_holding("pictures.json", listing), *out]


@registry.files("media_app.pictures")
def files(user_id: int) -> list[tuple]:
    """Their stored files that no other person's row uses (uploads may share a stored file)."""
    mine = set(Image._base_manager.filter(owner_id=user_id).values_list("original", flat=True))
    mine.update(Rendition._base_manager.filter(image__owner_id=user_id).values_list("file", flat=True))
    shared = set(
        Image._base_manager.filter(original__in=mine)
        .exclude(owner_id=user_id)
        .values_list("original", flat=True)
    )
    shared.update(
        Rendition._base_manager.filter(file__in=mine)
        .exclude(image__owner_id=user_id)
        .values_list("file", flat=True)
    )
    storage = _storage()
    return [(storage, name) for name in sorted(mine - shared)]
