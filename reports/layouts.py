"""What each report kind is: its title, its columns (in order, with their widths and formats) and the
filters it accepts besides its date range. The writers (excel.py, csvfile.py) take these columns;
the row sources (selectors.py) yield rows in this order; the form and the API offer these choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from config.core.models import Job

from .excel import DURATION_MS, Column, Kind
from .models import Export

# The filters a kind may have, besides its date range (every kind has that).
STATE, FORMAT, OWNER = "state", "format", "owner"
FILTER_LABELS = {STATE: "State", FORMAT: "Format", OWNER: "Owner"}
IMAGE_STATES = ("PENDING", "PROCESSING", "READY", "FAILED")
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "MPO", "HEIF", "AVIF")
JOB_STATES = tuple(Job.State.values)


@dataclass(frozen=True)
class Report:
    title: str
    columns: tuple[Column, ...]
    # filter name -> the values it accepts (OWNER: any username, staff only).
    filters: dict = field(default_factory=dict)

    def column_keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.columns)

    def chosen(self, keys) -> tuple[tuple[Column, ...], tuple[int, ...] | None]:
        """The columns for ``keys`` in that order, and their positions in the full row (None: all)."""
        if not keys or tuple(keys) == self.column_keys():
            return self.columns, None
        at = {c.key: i for i, c in enumerate(self.columns)}
        positions = tuple(at[k] for k in keys)
        return tuple(self.columns[i] for i in positions), positions


MEDIA_INVENTORY = Report(
    "Media inventory",
    (
        Column("Title", Kind.TEXT, 32, key="title"),
        Column("Format", Kind.TEXT, 9, key="format"),
        Column("Width (px)", Kind.NUMBER, 11, key="width"),
        Column("Height (px)", Kind.NUMBER, 11, key="height"),
        Column("Bytes before", Kind.NUMBER, 14, key="bytes_before"),
        Column("Bytes after", Kind.NUMBER, 14, key="bytes_after"),
        Column("Saving (%)", Kind.NUMBER, 11, key="saving"),
        Column("State", Kind.TEXT, 11, key="state"),
        Column("Uploaded at", Kind.DATETIME, 20, key="uploaded_at"),
    ),
    {STATE: IMAGE_STATES, FORMAT: IMAGE_FORMATS, OWNER: None},
)
JOB_HISTORY = Report(
    "Job history",
    (
        Column("Kind", Kind.TEXT, 22, key="kind"),
        Column("State", Kind.TEXT, 11, key="state"),
        Column("Queued", Kind.DATETIME, 20, key="queued"),
        Column("Started", Kind.DATETIME, 20, key="started"),
        Column("Finished", Kind.DATETIME, 20, key="finished"),
        # Most jobs take under a second: milliseconds, or the sheet would show 00:00:00.
        Column("Duration", Kind.DURATION, 13, key="duration", number_format=DURATION_MS),
        Column("Error", Kind.TEXT, 50, key="error"),
    ),
    {STATE: JOB_STATES, OWNER: None},
)
# One row a day: cheap enough for per-cell number formats.
DAILY_STATISTICS = Report(
    "Daily statistics",
    (
        Column("Day", Kind.DATE, 12, "yyyy-mm-dd", key="day"),
        Column("Uploads", Kind.NUMBER, 10, "#,##0", key="uploads"),
        Column("Bytes in", Kind.NUMBER, 16, "#,##0", key="bytes_in"),
        Column("Bytes out", Kind.NUMBER, 16, "#,##0", key="bytes_out"),
        Column("Saving (%)", Kind.NUMBER, 11, "0.0", key="saving"),
        Column("Processing p50 (ms)", Kind.NUMBER, 12, "#,##0", key="processing_p50_ms"),
        Column("Processing p95 (ms)", Kind.NUMBER, 12, "#,##0", key="processing_p95_ms"),
        Column("Failures", Kind.NUMBER, 10, "#,##0", key="failures"),
        Column("Exports", Kind.NUMBER, 10, "#,##0", key="exports"),
        Column("Emails sent", Kind.NUMBER, 12, "#,##0", key="emails_sent"),
    ),
)
REPORTS = {
    Export.Kind.MEDIA_INVENTORY: MEDIA_INVENTORY,
    Export.Kind.JOB_HISTORY: JOB_HISTORY,
    Export.Kind.DAILY_STATISTICS: DAILY_STATISTICS,
}
