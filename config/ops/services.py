"""The periodic jobs' work: cleanup and daily statistics.

The apps whose rows these read (media_app, reports, notifications) are looked up by label, so a
part whose app is not installed, or not migrated yet, is skipped rather than failing the rest.
"""

from __future__ import annotations

import logging
import math
import posixpath
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from config.core.models import Job
from config.core.storage import STORAGE_ERRORS

from .models import DailyStatistics

logger = logging.getLogger(__name__)

# Where uploads, renditions and exports live in the default storage.
DEFAULT_PREFIXES = ("media/", "exports/")
MESSAGE_STUCK = "This job stopped responding and was marked as failed."
# Past its hard time limit a job cannot still be running; the margin covers a retry's countdown
# (a retried job keeps its first started_at) and clock skew between machines.
STUCK_MARGIN = settings.BACKROOM_MAX_COUNTDOWN + 60
REASONS_KEPT = 20


def _model(label: str) -> type[models.Model] | None:
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def _has_fields(model: type[models.Model] | None, *names: str) -> bool:
    if model is None:
        return False
    existing = {f.name for f in model._meta.get_fields()}
    return all(name in existing for name in names)


# --- cleanup -------------------------------------------------------------------------------------


def cleanup_run(
    *,
    export_grace_hours: float = 0,
    orphan_grace_hours: float = 24,
    result_retention_days: float = 30,
    batch_size: int = 1000,
    stuck_after_seconds: int | None = None,
    prefixes: Iterable[str] = DEFAULT_PREFIXES,
) -> dict[str, int]:
    """One pass of every cleanup; returns what it removed (stored as the job's result)."""
    exports = exports_delete_expired(grace_hours=export_grace_hours, batch_size=batch_size)
    orphans = orphans_delete(grace_hours=orphan_grace_hours, prefixes=prefixes, batch_size=batch_size)
    results = results_purge(retention_days=result_retention_days, batch_size=batch_size)
    ops_jobs = ops_jobs_purge(retention_days=result_retention_days, batch_size=batch_size)
    failed = jobs_fail_stuck(stuck_after_seconds=stuck_after_seconds, batch_size=batch_size)
    # Workbooks a killed export of this install left (reports workers sweep theirs as they start).
    from reports.services import export_temp_files_delete

    temp = export_temp_files_delete()
    return {
        "rows_deleted": exports["rows"] + results + ops_jobs,
        "files_deleted": exports["files"] + orphans["files"] + temp["files"],
        "bytes_freed": exports["bytes"] + orphans["bytes"] + temp["bytes"],
        "exports_deleted": exports["rows"],
        "orphans_deleted": orphans["files"],
        "temp_files_deleted": temp["files"],
        "results_purged": results,
        "ops_jobs_purged": ops_jobs,
        "jobs_failed": failed,
    }


def _delete_file(name: str) -> int:
    """Delete one stored file; returns the bytes freed (0 if it was already gone)."""
    try:
        size = default_storage.size(name)
    except STORAGE_ERRORS:
        size = None
    try:
        default_storage.delete(name)
    except STORAGE_ERRORS as exc:
        logger.warning("could not delete %s: %s", name, exc)
        return 0
    return size or 0


def exports_delete_expired(*, grace_hours: float = 0, batch_size: int = 1000) -> dict[str, int]:
    """Delete exports whose link has expired: the row first, then its file once that commits.

    A file whose delete fails is left behind without a row; the orphan sweep removes it later.
    """
    Export = _model("reports.Export")
    done = {"rows": 0, "files": 0, "bytes": 0}
    if not _has_fields(Export, "expires_at", "file"):
        return done
    cutoff = timezone.now() - timedelta(hours=grace_hours)
    while True:
        batch = list(
            Export._base_manager.filter(expires_at__lt=cutoff)
            .order_by("pk")
            .values_list("pk", "file")[:batch_size]
        )
        if not batch:
            return done
        with transaction.atomic():
            _, per_model = Export._base_manager.filter(pk__in=[pk for pk, _ in batch]).delete()
        deleted = per_model.get(Export._meta.label, 0)
        if not deleted:
            return done  # someone else deleted them meanwhile, with their files
        done["rows"] += deleted
        for _, name in batch:
            if name:
                freed = _delete_file(name)
                done["files"] += 1
                done["bytes"] += freed


def _walk(prefix: str) -> Iterator[str]:
    try:
        dirs, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in files:
        yield posixpath.join(prefix, name)
    for sub in dirs:
        yield from _walk(posixpath.join(prefix, sub))


def _file_fields() -> list[tuple[type[models.Model], str]]:
    """Every FileField (ImageField included) of every installed model: what may reference a file."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.FileField):
                found.append((model, field.attname))
    return found


def _referenced(names: list[str], fields) -> set[str]:
    used: set[str] = set()
    for model, attname in fields:
        used.update(model._base_manager.filter(**{f"{attname}__in": names}).values_list(attname, flat=True))
    return used


def orphans_delete(
    *, grace_hours: float = 24, prefixes: Iterable[str] = DEFAULT_PREFIXES, batch_size: int = 1000
) -> dict[str, int]:
    """Delete stored files that no row references and that are older than the grace period.

    An upload in flight (stored, its row not committed yet) is young, so the grace period keeps it.
    """
    cutoff = timezone.now() - timedelta(hours=grace_hours)
    fields = _file_fields()
    done = {"files": 0, "bytes": 0}

    def sweep(candidates: list[str]) -> None:
        used = _referenced(candidates, fields)
        for name in candidates:
            if name not in used:
                done["bytes"] += _delete_file(name)
                done["files"] += 1
                logger.info("deleted orphaned file %s", name)

    candidates: list[str] = []
    for prefix in prefixes:
        for name in _walk(prefix.rstrip("/")):
            try:
                modified = default_storage.get_modified_time(name)
            except STORAGE_ERRORS:
                continue  # deleted meanwhile
            if timezone.is_naive(modified):
                modified = timezone.make_aware(modified)
            if modified >= cutoff:
                continue
            candidates.append(name)
            if len(candidates) >= batch_size:
                sweep(candidates)
                candidates = []
    if candidates:
        sweep(candidates)
    return done


def _purge_in_batches(queryset, batch_size: int) -> int:
    """Delete a queryset's rows a batch of primary keys at a time: short locks, no giant DELETE."""
    model = queryset.model
    total = 0
    while True:
        pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return total
        deleted, _ = model._base_manager.filter(pk__in=pks).delete()
        total += deleted


def results_purge(*, retention_days: float = 30, batch_size: int = 1000) -> int:
    from django_celery_results.models import TaskResult

    cutoff = timezone.now() - timedelta(days=retention_days)
    return _purge_in_batches(TaskResult.objects.filter(date_done__lt=cutoff), batch_size)


def ops_jobs_purge(*, retention_days: float = 30, batch_size: int = 1000) -> int:
    """Job rows of finished periodic runs (owner-less ops.* jobs): one a minute adds up."""
    cutoff = timezone.now() - timedelta(days=retention_days)
    old = Job.objects.filter(
        owner__isnull=True,
        task_name__startswith="ops.",
        state__in=Job.FINAL_STATES,
        finished_at__lt=cutoff,
    )
    return _purge_in_batches(old, batch_size)


def _hard_time_limits() -> tuple[dict[str, float], float]:
    from config.celery_app import app

    app.loader.import_default_modules()
    default = float(app.conf.task_time_limit or 3600)
    limits = {name: float(task.time_limit) for name, task in app.tasks.items() if task.time_limit}
    return limits, default


def jobs_fail_stuck(*, stuck_after_seconds: int | None = None, batch_size: int = 1000) -> int:
    """Mark jobs that stopped responding as failed, and the image or export behind each of them.

    STARTED/PROGRESS past their hard time limit, and RETRY whose message should have come back
    long ago (the broker lost it). ``stuck_after_seconds`` replaces both thresholds. The update
    repeats its conditions, so a job that moved on meanwhile is left alone.
    """
    active = (Job.State.STARTED, Job.State.PROGRESS, Job.State.RETRY)
    names = set(Job.objects.filter(state__in=active).values_list("task_name", flat=True))
    if not names:
        return 0
    limits, default = _hard_time_limits()
    # A retry's message is back after its countdown; held by a worker that died, only once the
    # broker's visibility timeout has passed too. Then it runs at most its hard time limit.
    visibility = float(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600))
    now = timezone.now()
    failed = 0
    for name in names:
        if stuck_after_seconds is not None:
            running_after = retry_after = float(stuck_after_seconds)
        else:
            running_after = limits.get(name, default) + STUCK_MARGIN
            retry_after = running_after + visibility
        running_cutoff = now - timedelta(seconds=running_after)
        retry_cutoff = now - timedelta(seconds=retry_after)
        stale = Q(
            state__in=(Job.State.STARTED, Job.State.PROGRESS),
            started_at__lt=running_cutoff,
            updated_at__lt=running_cutoff,
        ) | Q(state=Job.State.RETRY, updated_at__lt=retry_cutoff)
        moved = _jobs_fail(Job.objects.filter(stale, task_name=name), now=now, batch_size=batch_size)
        if moved:
            logger.warning("marked %d %s job(s) that stopped responding as failed", len(moved), name)
        for job in moved:
            _settle_business_row(job)
        failed += len(moved)
    return failed


def _jobs_fail(stale: models.QuerySet, *, now: datetime, batch_size: int) -> list[Job]:
    """Fail the stale jobs a batch at a time; returns exactly the ones this call moved.

    Candidates are picked by pk, the UPDATE repeats the conditions (a job that moved on between
    the two is skipped), and the re-read finds our mark: this run's finished_at and message.
    """
    moved: list[Job] = []
    last_pk = 0
    while True:
        pks = list(stale.filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return moved
        last_pk = pks[-1]
        stale.filter(pk__in=pks).update(
            state=Job.State.FAILURE, error=MESSAGE_STUCK, finished_at=now, updated_at=now
        )
        moved += Job.objects.filter(
            pk__in=pks, state=Job.State.FAILURE, error=MESSAGE_STUCK, finished_at=now
        ).only("pk", "task_id", "task_name", "args", "kwargs")


def _settle_business_row(job: Job) -> None:
    """Let the job's task move its image or export to failed, as it does on its own failures."""
    from config.celery_app import app

    task = app.tasks.get(job.task_name)
    settle = getattr(task, "settle_failure", None)
    if settle is None:
        return  # a task this deployment no longer has: the job row is all there is to settle
    try:
        settle(MESSAGE_STUCK, job.task_id, *(job.args or []), **(job.kwargs or {}))
    except Exception:
        # One row that cannot be settled must not keep the others stuck; the job itself is failed.
        logger.exception("could not settle the business row of stuck job %s (%s)", job.task_id, job.task_name)


# --- statistics ----------------------------------------------------------------------------------


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Start and end of ``day`` in TIME_ZONE (23 or 25 hours long on a DST change)."""
    tz = ZoneInfo(settings.TIME_ZONE)
    return (
        datetime.combine(day, time.min, tzinfo=tz),
        datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz),
    )


def local_today() -> date:
    return timezone.localdate(timezone.now(), ZoneInfo(settings.TIME_ZONE))


def percentile(values: list[int], q: float) -> int | None:
    """Nearest-rank percentile: the smallest value with at least q% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _reason_counts(errors: Iterable[str]) -> dict[str, int]:
    counts = Counter((error or "").strip()[:200] or "(no message)" for error in errors)
    kept = dict(counts.most_common(REASONS_KEPT))
    rest = sum(counts.values()) - sum(kept.values())
    if rest:
        kept["(other reasons)"] = rest
    return kept


def _image_figures(start: datetime, end: datetime) -> dict[str, Any]:
    Image = _model("media_app.Image")
    figures: dict[str, Any] = {
        "uploads": 0,
        "bytes_in": 0,
        "bytes_out": 0,
        "bytes_saved": 0,
        "saving_percent": 0.0,
        "processing_p50_ms": None,
        "processing_p95_ms": None,
    }
    if not _has_fields(Image, "created_at", "bytes_in", "bytes_out", "processing_ms"):
        return figures
    day = Image._base_manager.filter(created_at__gte=start, created_at__lt=end)
    figures["uploads"] = day.count()
    figures["bytes_in"] = day.aggregate(n=Sum("bytes_in"))["n"] or 0
    # Saving is measured on the images that were processed: a failed one has no output to compare.
    processed = day.filter(bytes_out__isnull=False, bytes_in__gt=0)
    sums = processed.aggregate(i=Sum("bytes_in"), o=Sum("bytes_out"))
    figures["bytes_out"] = sums["o"] or 0
    if sums["i"]:
        figures["bytes_saved"] = sums["i"] - figures["bytes_out"]
        figures["saving_percent"] = round(100 * figures["bytes_saved"] / sums["i"], 1)
    # A day's worth of numbers is small: percentiles in Python work on every database.
    times = list(day.filter(processing_ms__isnull=False).values_list("processing_ms", flat=True))
    figures["processing_p50_ms"] = percentile(times, 50)
    figures["processing_p95_ms"] = percentile(times, 95)
    return figures


def _failure_errors(start: datetime, end: datetime) -> list[str]:
    """One error text per failure that day: every failed job, plus failed images without one.

    An image whose job failed is counted once, through its job.
    """
    errors = list(
        Job.objects.filter(state=Job.State.FAILURE, finished_at__gte=start, finished_at__lt=end)
        .exclude(task_name__startswith="ops.")
        .values_list("error", flat=True)
    )
    Image = _model("media_app.Image")
    if _has_fields(Image, "state", "error", "created_at"):
        failed_images = Image._base_manager.filter(state="FAILED", created_at__gte=start, created_at__lt=end)
        if _has_fields(Image, "job"):
            failed_images = failed_images.exclude(job__state=Job.State.FAILURE)
        errors += list(failed_images.values_list("error", flat=True))
    return errors


def _count_created(label: str, start: datetime, end: datetime) -> int:
    model = _model(label)
    if not _has_fields(model, "created_at"):
        return 0
    return model._base_manager.filter(created_at__gte=start, created_at__lt=end).count()


def _emails_sent(start: datetime, end: datetime) -> int:
    Notification = _model("notifications.Notification")
    if not _has_fields(Notification, "email_state", "email_sent_at"):
        return 0
    return Notification._base_manager.filter(
        email_state="sent", email_sent_at__gte=start, email_sent_at__lt=end
    ).count()


def statistics_compute(*, day: date) -> DailyStatistics:
    """Compute one day from scratch and store it: running it again replaces, never adds."""
    start, end = day_bounds(day)
    errors = _failure_errors(start, end)
    values = {
        **_image_figures(start, end),
        "failures": len(errors),
        "failures_by_reason": _reason_counts(errors),
        "exports": _count_created("reports.Export", start, end),
        "emails_sent": _emails_sent(start, end),
    }
    stats, _ = DailyStatistics.objects.update_or_create(day=day, defaults=values)
    return stats


def statistics_run(*, days_back: int = 1, today: date | None = None) -> dict[str, Any]:
    """Recompute today and the ``days_back`` days before it (yesterday's late finishes count)."""
    today = today or local_today()
    days = [today - timedelta(days=n) for n in range(max(0, days_back) + 1)]
    for day in days:
        statistics_compute(day=day)
    return {"days": [d.isoformat() for d in days]}
