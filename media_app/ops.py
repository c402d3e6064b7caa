"""What the media app gives the ops jobs (config.ops.registry): its sweeps, figures and failures."""

from __future__ import annotations

from collections.abc import Iterable

from config.ops.files import orphans_delete
from config.ops.registry import Swept, registry

from . import selectors, services
from .models import STORAGE_PREFIX


@registry.sweep("media_app.orphaned_files")
def orphaned_files(
    *,
    orphan_grace_hours: float = 24,
    prefixes: Iterable[str] | None = None,
    batch_size: int = 1000,
    rest_ratio: float = 0.0,
) -> Swept:
    """Originals and renditions no image row uses: a crashed upload, a set a re-run replaced."""
    return orphans_delete(
        storage=services.file_storage(),
        prefix=STORAGE_PREFIX,
        referenced=selectors.files_referenced,
        grace_hours=orphan_grace_hours,
        prefixes=prefixes,
        batch_size=batch_size,
        rest_ratio=rest_ratio,
    )


@registry.sweep("media_app.unsettled_images")
def unsettled_images(*, batch_size: int = 1000) -> Swept:
    return Swept(counts={"rows_settled": services.images_settle(batch_size=batch_size)})


@registry.sweep("media_app.deleted_images")
def deleted_images(*, batch_size: int = 1000) -> Swept:
    """Images deleted longer than MEDIA_DELETE_GRACE_SECONDS ago, and the files no other row uses."""
    done = services.images_purge_deleted(batch_size=batch_size)
    return Swept(
        rows=done["rows"], files=done["files"], bytes=done["bytes"], counts={"images_purged": done["images"]}
    )


registry.figures("media_app.images")(selectors.daily_figures)
registry.failure_reasons("media_app.images")(selectors.failure_reasons)
