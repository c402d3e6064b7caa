"""Reads: owner-scoped exports for the views, and the row sources of each report kind.

The row sources never load a table: ``values_list`` yields plain tuples and ``iterator`` fetches
them in chunks (a server-side cursor on PostgreSQL, fetchmany on SQLite).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from operator import itemgetter

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.db.models.functions import Now
from django.utils import timezone

from config.core.models import Job
from config.core.words import kind_name, state_word
from config.ops import selectors as ops_selectors
from media_app import selectors as media_selectors

from .excel import Column, Kind
from .layouts import FILTER_LABELS, FORMAT, OWNER, REPORTS, STATE, Report
from .models import Export, ReportSchedule

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


def filter_word(kind: str, name: str, value: str) -> str:
    """A filter's value as people read it: a state in the pages' words ("READY" → "Ready")."""
    if name != STATE:
        return value
    if kind == Export.Kind.MEDIA_INVENTORY:
        return media_selectors.image_state_word(value)
    word = state_word(value)
    # Three job states read "Running": the filter still tells them apart.
    return (
        f"{word} ({value.lower()})"
        if value in (Job.State.STARTED, Job.State.PROGRESS, Job.State.RETRY)
        else word
    )


def _bounds(date_from: date | None, date_to: date | None) -> dict:
    """Datetime bounds for a created_at field: whole local days, date_to included."""
    tz = timezone.get_current_timezone()
    found = {}
    if date_from:
        found["created_at__gte"] = datetime.combine(date_from, time.min, tzinfo=tz)
    if date_to:
        found["created_at__lt"] = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=tz)
    return found


def _row_owner_id(export: Export) -> int | None:
    """Whose rows: the export's owner, or (staff only, checked when it was asked for) another person.
    None when that person no longer exists: the export then has no rows."""
    username = (export.filters or {}).get(OWNER)
    if not username:
        return export.owner_id
    return get_user_model().objects.filter(username=username).values_list("pk", flat=True).first()


def _media_inventory(export: Export) -> QuerySet:
    # Through media's selector: an image its owner deleted is not in their inventory.

    filters = export.filters or {}
    found = media_selectors.images_of_owner(owner_id=_row_owner_id(export)).filter(
        **_bounds(export.date_from, export.date_to)
    )
    if filters.get(STATE):
        found = found.filter(state__in=filters[STATE])
    if filters.get(FORMAT):
        found = found.filter(original_format__in=filters[FORMAT])
    return found.order_by("created_at", "pk").values_list(
        "title",
        "original_format",
        "original_width",
        "original_height",
        "bytes_in",
        "bytes_out",
        "state",
        "created_at",
    )


def _media_inventory_rows(queryset: QuerySet) -> Iterator[tuple]:
    for title, fmt, width, height, bytes_in, bytes_out, state, created_at in queryset.iterator(
        chunk_size=CHUNK_SIZE
    ):
        saving = round(100 * (1 - bytes_out / bytes_in), 1) if bytes_in and bytes_out is not None else None
        yield (
            title,
            fmt,
            width,
            height,
            bytes_in,
            bytes_out,
            saving,
            media_selectors.image_state_word(state),
            created_at,
        )


def _job_history(export: Export) -> QuerySet:
    filters = export.filters or {}
    found = (
        Job.objects.filter(owner_id=_row_owner_id(export), **_bounds(export.date_from, export.date_to))
        # The export's own job is still running while it is written: it is not history yet.
        .exclude(pk=export.job_id)
    )
    if filters.get(STATE):
        found = found.filter(state__in=filters[STATE])
    return found.order_by("created_at", "pk").values_list(
        "kind", "state", "created_at", "started_at", "finished_at", "error"
    )


def _job_history_rows(queryset: QuerySet) -> Iterator[tuple]:
    for kind, state, queued, started, finished, error in queryset.iterator(chunk_size=CHUNK_SIZE):
        duration = finished - started if started and finished else None
        # The words of the pages (issue 22, point 7): "Picture compression", "Ready".
        yield (kind_name(kind), state_word(state), queued, started, finished, duration, error)


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


def _zoned(columns: tuple[Column, ...], zone: str) -> tuple[Column, ...]:
    """Date-time columns name the zone their times are in: "Uploaded at (Europe/Berlin)"."""
    return tuple(replace(c, title=f"{c.title} ({zone})") if c.kind == Kind.DATETIME else c for c in columns)


def export_source(export: Export) -> tuple[Report, int, Iterator[tuple]]:
    """The report's layout (the chosen columns, in their order), its row count (for progress) and
    a lazy iterator over its rows. Times are for the current time zone (the owner's, on the worker)."""
    build_queryset, rows = _SOURCES[export.kind]
    report = REPORTS[export.kind]
    queryset = build_queryset(export)
    columns, positions = report.chosen(export.columns)
    source = rows(queryset)
    if positions is not None:
        pick = itemgetter(*positions)
        source = map(pick, source) if len(positions) > 1 else ((pick(row),) for row in source)
    zone = str(timezone.get_current_timezone_name())
    layout = Report(report.title, _zoned(columns, zone), report.filters)
    return layout, queryset.count(), source


# --- what a kind accepts (the form, the API and the worker ask the same) ---------------------------


def columns_error(kind: str, keys: list[str] | tuple[str, ...]) -> str | None:
    """A sentence when ``keys`` names a column the kind lacks, or one twice; else None."""
    report = REPORTS.get(kind)
    if report is None:
        return None  # the kind itself is refused elsewhere
    known = report.column_keys()
    unknown = [k for k in keys if k not in known]
    if unknown:
        return (
            f"{report.title} has no column {', '.join(repr(k) for k in unknown)}. "
            f"Its columns are: {', '.join(known)}."
        )
    if len(set(keys)) != len(keys):
        return "Choose each column once."
    return None


def filters_error(kind: str, filters: dict, *, is_staff: bool) -> str | None:
    """A sentence when a filter does not fit the kind (or this person), or a value is unknown."""
    report = REPORTS.get(kind)
    if report is None:
        return None
    for name, value in filters.items():
        if name not in report.filters:
            label = FILTER_LABELS.get(name, name)
            fits = ", ".join(FILTER_LABELS[f].lower() for f in report.filters) or "dates only"
            return f"{report.title} cannot be filtered by {label.lower()} (it has: {fits})."
        if name == OWNER:
            if not is_staff:
                return "Only staff can export someone else's records."
            if not get_user_model().objects.filter(username=value).exists():
                return f"There is no account named {value!r}."
            continue
        allowed = report.filters[name]
        bad = [v for v in value if v not in allowed]
        if bad:
            return (
                f"{', '.join(repr(v) for v in bad)} is not a {FILTER_LABELS[name].lower()} of "
                f"{report.title.lower()} (choose from {', '.join(allowed)})."
            )
    return None


def schedules_for_user(*, user: AbstractBaseUser) -> list[ReportSchedule]:
    found = ReportSchedule.objects.filter(owner_id=user.pk).select_related("periodic_task")
    return list(found.order_by("created_at", "pk"))


def schedule_for_user(*, user: AbstractBaseUser, schedule_id: int) -> ReportSchedule | None:
    """None when missing or someone else's: the caller answers 404 for both."""
    found = ReportSchedule.objects.filter(owner_id=user.pk, pk=schedule_id)
    return found.select_related("periodic_task").first()
