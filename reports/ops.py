"""What the reports app gives the ops jobs (config.ops.registry): the end of an export's life
(expiry, orphaned and temporary files, exports stuck behind a final job) and its daily figure."""

from __future__ import annotations

from collections.abc import Iterable

from config.ops.files import orphans_delete
from config.ops.registry import Swept, registry

from . import selectors, services
from .models import STORAGE_PREFIX, Export


@registry.sweep("reports.expired_exports")
def expired_exports(*, export_grace_hours: float = 0, batch_size: int = 1000) -> Swept:
    done = services.exports_delete_expired(grace_hours=export_grace_hours, batch_size=batch_size)
    return Swept(
        rows=done["rows"], files=done["files"], bytes=done["bytes"], counts={"exports_deleted": done["rows"]}
    )


@registry.sweep("reports.orphaned_files")
def orphaned_files(
    *, orphan_grace_hours: float = 24, prefixes: Iterable[str] | None = None, batch_size: int = 1000
) -> Swept:
    """Export files no row uses: a delete that failed after its row went."""
    return orphans_delete(
        storage=Export._meta.get_field("file").storage,
        prefix=STORAGE_PREFIX,
        referenced=selectors.files_referenced,
        grace_hours=orphan_grace_hours,
        prefixes=prefixes,
        batch_size=batch_size,
    )


@registry.sweep("reports.temp_files")
def temp_files() -> Swept:
    """Workbooks a killed export left on the machine the cleanup runs on (reports workers sweep
    theirs as each pool process starts)."""
    done = services.export_temp_files_delete()
    return Swept(files=done["files"], bytes=done["bytes"], counts={"temp_files_deleted": done["files"]})


@registry.sweep("reports.unsettled_exports")
def unsettled_exports(*, batch_size: int = 1000) -> Swept:
    return Swept(counts={"rows_settled": services.exports_settle(batch_size=batch_size)})


registry.figures("reports.exports")(selectors.daily_figures)
