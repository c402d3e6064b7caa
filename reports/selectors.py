"""Reads: owner-scoped exports for the views, and the row sources of each report kind.

The row sources never load a table: ``values_list`` yields plain tuples and ``iterator`` fetches
them in chunks (a server-side cursor on PostgreSQL, fetchmany on SQLite).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.db.models.functions import Now
from django.utils import timezone

from config.core.models import Job
from config.ops import selectors as ops_selectors

from .excel import Column, Kind
from .models import Export

CHUNK_SIZE = 2000


# --- exports, for the views -----------------------------------------------------------------------


def _owned(user: AbstractBaseUser) -> QuerySet[Export]:
    # Expired by the database's clock, as expires_at was written (reports.services._finish): the web
    # host's own clock may differ from the reports host's.
    expired = ExpressionWrapper(Q(expires_at__lte=Now()), output_field=BooleanField())
    return Export.objects.filter(owner_id=user.pk).select_related("job").annotate(expired_now=expired)


def exports_for_user(*, user: AbstractBaseUser, limit: int = 50) -> list[Export]:
    return list(_owned(user).order_by("-created_at", "-pk")[:limit])


def export_for_user(*, user: AbstractBaseUser, export_id: int) -> Export | None:
    """None when missing or someone else's: the caller answers 404 for both."""
    return _owned(user).filter(pk=export_id).first()


def exports_active_count(*, user: AbstractBaseUser) -> int:
    """Exports queued or running. The job row decides: it is settled even when a worker died."""
    return Export.objects.filter(
        owner_id=user.pk, state__in=Export.ACTIVE_STATES, job__state__in=Job.ACTIVE_STATES
    ).count()


def exports_expired(*, now: datetime | None = None) -> QuerySet[Export]:
    """Exports whose download period is over (the cleanup job removes them and their files)."""
    return Export.objects.filter(expires_at__lte=now or Now())


# --- for the ops jobs (registered in ops.py) ------------------------------------------------------


def files_referenced(names: list[str]) -> set[str]:
    """Which of these stored names an export row still uses."""
    return set(Export._base_manager.filter(file__in=names).values_list("file", flat=True))


def exports_unsettled(*, after_pk: int = 0, limit: int = 1000) -> list[Export]:
    """Exports still QUEUED or STARTED whose job is final: their failure hook never ran (or broke)."""
    return list(
        Export._base_manager.filter(
            pk__gt=after_pk, state__in=Export.ACTIVE_STATES, job__state__in=Job.FINAL_STATES
        )
        .select_related("job")
        .order_by("pk")[:limit]
    )


def daily_figures(start: datetime, end: datetime) -> dict[str, int]:
    return {"exports": Export._base_manager.filter(created_at__gte=start, created_at__lt=end).count()}


# --- report kinds ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    title: str
    columns: tuple[Column, ...]


MEDIA_INVENTORY = Report(
    "Media inventory",
    (
        Column("Title", Kind.TEXT, 32),
        Column("Format", Kind.TEXT, 9),
        Column("Width (px)", Kind.NUMBER, 11),
        Column("Height (px)", Kind.NUMBER, 11),
        Column("Bytes before", Kind.NUMBER, 14),
        Column("Bytes after", Kind.NUMBER, 14),
        Column("Saving (%)", Kind.NUMBER, 11),
        Column("State", Kind.TEXT, 11),
        Column("Uploaded at", Kind.DATETIME, 20),
    ),
)
JOB_HISTORY = Report(
    "Job history",
    (
        Column("Kind", Kind.TEXT, 22),
        Column("State", Kind.TEXT, 11),
        Column("Queued", Kind.DATETIME, 20),
        Column("Started", Kind.DATETIME, 20),
        Column("Finished", Kind.DATETIME, 20),
        Column("Duration", Kind.DURATION, 11),
        Column("Error", Kind.TEXT, 50),
    ),
)
# One row a day: cheap enough for per-cell number formats.
DAILY_STATISTICS = Report(
    "Daily statistics",
    (
        Column("Day", Kind.DATE, 12, "yyyy-mm-dd"),
        Column("Uploads", Kind.NUMBER, 10, "#,##0"),
        Column("Bytes in", Kind.NUMBER, 16, "#,##0"),
        Column("Bytes out", Kind.NUMBER, 16, "#,##0"),
        Column("Saving (%)", Kind.NUMBER, 11, "0.0"),
        Column("Processing p50 (ms)", Kind.NUMBER, 12, "#,##0"),
        Column("Processing p95 (ms)", Kind.NUMBER, 12, "#,##0"),
        Column("Failures", Kind.NUMBER, 10, "#,##0"),
        Column("Exports", Kind.NUMBER, 10, "#,##0"),
        Column("Emails sent", Kind.NUMBER, 12, "#,##0"),
    ),
)
REPORTS = {
    Export.Kind.MEDIA_INVENTORY: MEDIA_INVENTORY,
    Export.Kind.JOB_HISTORY: JOB_HISTORY,
    Export.Kind.DAILY_STATISTICS: DAILY_STATISTICS,
}


def _bounds(date_from: date | None, date_to: date | None) -> dict:
    """Datetime bounds for a created_at field: whole local days, date_to included."""
    tz = timezone.get_current_timezone()
    found = {}
    if date_from:
        found["created_at__gte"] = datetime.combine(date_from, time.min, tzinfo=tz)
    if date_to:
        found["created_at__lt"] = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=tz)
    return found


def _media_inventory(export: Export) -> QuerySet:
    # Through media's selector: an image its owner deleted is not in their inventory.
    from media_app import selectors as media_selectors

    return (
        media_selectors.images_of_owner(owner_id=export.owner_id)
        .filter(**_bounds(export.date_from, export.date_to))
        .order_by("created_at", "pk")
        .values_list(
            "title",
            "original_format",
            "original_width",
            "original_height",
            "bytes_in",
            "bytes_out",
            "state",
            "created_at",
        )
    )


def _media_inventory_rows(queryset: QuerySet) -> Iterator[tuple]:
    for title, fmt, width, height, bytes_in, bytes_out, state, created_at in queryset.iterator(
        chunk_size=CHUNK_SIZE
    ):
        saving = round(100 * (1 - bytes_out / bytes_in), 1) if bytes_in and bytes_out is not None else None
        yield (title, fmt, width, height, bytes_in, bytes_out, saving, state, created_at)


def _job_history(export: Export) -> QuerySet:
    return (
        Job.objects.filter(owner_id=export.owner_id, **_bounds(export.date_from, export.date_to))
        # The export's own job is still running while it is written: it is not history yet.
        .exclude(pk=export.job_id)
        .order_by("created_at", "pk")
        .values_list("kind", "state", "created_at", "started_at", "finished_at", "error")
    )


def _job_history_rows(queryset: QuerySet) -> Iterator[tuple]:
    for kind, state, queued, started, finished, error in queryset.iterator(chunk_size=CHUNK_SIZE):
        duration = finished - started if started and finished else None
        yield (kind, state, queued, started, finished, duration, error)


def _daily_statistics(export: Export) -> QuerySet:
    return ops_selectors.statistics_rows(
        fields=[
            "day",
            "uploads",
            "bytes_in",
            "bytes_out",
            "saving_percent",
            "processing_p50_ms",
            "processing_p95_ms",
            "failures",
            "exports",
            "emails_sent",
        ],
        date_from=export.date_from,
        date_to=export.date_to,
    )


def _plain_rows(queryset: QuerySet) -> Iterator[tuple]:
    return queryset.iterator(chunk_size=CHUNK_SIZE)


_SOURCES = {
    Export.Kind.MEDIA_INVENTORY: (_media_inventory, _media_inventory_rows),
    Export.Kind.JOB_HISTORY: (_job_history, _job_history_rows),
    Export.Kind.DAILY_STATISTICS: (_daily_statistics, _plain_rows),
}


def export_source(export: Export) -> tuple[Report, int, Iterator[tuple]]:
    """The report's layout, its row count (for progress) and a lazy iterator over its rows."""
    build_queryset, rows = _SOURCES[export.kind]
    queryset = build_queryset(export)
    return REPORTS[export.kind], queryset.count(), rows(queryset)
