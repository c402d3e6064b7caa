"""The periodic jobs' work: cleanup and daily statistics.

What is the apps' own (their expired and orphaned files, their stuck rows, their figures and
failure reasons) each app registers in its ``ops.py`` (see :mod:`config.ops.registry`); this module
runs those and adds them up, and does itself only what belongs to the job layer: jobs that stopped
responding, old task results and old periodic-job rows.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_celery_results.models import TaskResult

from config.celery_app import app
from config.core import push
from config.core.clock import db_now
from config.core.errors import HumanError
from config.core.models import Job

from .models import DailyStatistics
from .registry import Swept, option_names, registry, rest_after

logger = logging.getLogger(__name__)

MESSAGE_STUCK = "This job stopped responding and was marked as failed."
MESSAGE_UNKNOWN_OPTIONS = "The cleanup has no option {names}. Please check its keyword arguments."
# Past its hard time limit a job cannot still be running; the margin covers a retry's countdown
# (a retried job keeps its first started_at) and clock skew between machines.
STUCK_MARGIN = settings.BACKROOM_MAX_COUNTDOWN + 60
REASONS_KEPT = 20
# DailyStatistics fields that ops fills itself; every other one is some app's daily figure.
OWN_FIELDS = {"id", "day", "failures", "failures_by_reason", "computed_at"}


# --- cleanup -------------------------------------------------------------------------------------


def cleanup_run(
    *,
    result_retention_days: float = 30,
    batch_size: int = 1000,
    stuck_after_seconds: int | None = None,
    rest_ratio: float = 1.0,
    **options: Any,
) -> dict[str, Any]:
    """One pass of every cleanup; returns what it removed (stored as the job's result).

    After each batch the purges and the sweeps that name ``rest_ratio`` rest ``rest_ratio`` times
    as long as the batch took (:func:`config.ops.registry.rest_after`): the site first.

    ``options`` go to the apps' sweeps, each getting those it names (``orphan_grace_hours`` …);
    one that no sweep reads is refused before anything runs. A sweep that raises is logged and
    the others still run; the first error then fails the job (it is retried if transient).
    """
    shared = {"batch_size": batch_size, "rest_ratio": rest_ratio}
    known = registry.sweep_options() - set(shared)
    unknown = sorted(set(options) - known)
    if unknown:
        raise HumanError(MESSAGE_UNKNOWN_OPTIONS.format(names=", ".join(unknown)))

    # Jobs first: settling a stuck job's business row is then left to its task's hook as usual.
    failed = jobs_fail_stuck(stuck_after_seconds=stuck_after_seconds, batch_size=batch_size)
    totals = Swept()
    counts: Counter[str] = Counter()
    errors: list[Exception] = []
    for name, sweep in registry.sweeps():
        wanted = option_names(sweep)
        given = {k: v for k, v in {**shared, **options}.items() if k in wanted}
        try:
            swept = sweep(**given)
        except Exception as exc:
            logger.exception("cleanup: the %s sweep failed", name)
            errors.append(exc)
            continue
        totals.rows += swept.rows
        totals.files += swept.files
        totals.bytes += swept.bytes
        counts.update(swept.counts)
    results = results_purge(
        retention_days=result_retention_days, batch_size=batch_size, rest_ratio=rest_ratio
    )
    ops_jobs = ops_jobs_purge(
        retention_days=result_retention_days, batch_size=batch_size, rest_ratio=rest_ratio
    )
    if errors:
        raise errors[0]
    return {
        "rows_deleted": totals.rows + results + ops_jobs,
        "files_deleted": totals.files,
        "bytes_freed": totals.bytes,
        **dict(counts),
        "results_purged": results,
        "ops_jobs_purged": ops_jobs,
        "jobs_failed": failed,
    }


def _purge_in_batches(queryset, batch_size: int, rest_ratio: float = 0.0) -> int:
    """Delete a queryset's rows a batch of primary keys at a time: short locks, no giant DELETE,
    and a rest after each batch (``rest_ratio``)."""
    model = queryset.model
    total = 0
    last_pk = 0
    while True:
        started = monotonic()
        # From the last batch's end: on PostgreSQL the rows just deleted stay in the index until
        # vacuum, and a scan from the start would walk all of them again on every batch.
        pks = list(queryset.filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return total
        last_pk = pks[-1]
        deleted, _ = model._base_manager.filter(pk__in=pks).delete()
        total += deleted
        rest_after(started, rest_ratio)


def results_purge(*, retention_days: float = 30, batch_size: int = 1000, rest_ratio: float = 0.0) -> int:
    cutoff = timezone.now() - timedelta(days=retention_days)
    return _purge_in_batches(TaskResult.objects.filter(date_done__lt=cutoff), batch_size, rest_ratio)


def ops_jobs_purge(*, retention_days: float = 30, batch_size: int = 1000, rest_ratio: float = 0.0) -> int:
    """Job rows of finished periodic runs (owner-less ops.* jobs): one a minute adds up."""
    cutoff = timezone.now() - timedelta(days=retention_days)
    old = Job.objects.filter(
        owner__isnull=True,
        task_name__startswith="ops.",
        state__in=Job.FINAL_STATES,
        finished_at__lt=cutoff,
    )
    return _purge_in_batches(old, batch_size, rest_ratio)


def _hard_time_limits() -> tuple[dict[str, float], float]:
    app.loader.import_default_modules()
    default = float(app.conf.task_time_limit or 3600)
    limits = {name: float(task.time_limit) for name, task in app.tasks.items() if task.time_limit}
    return limits, default


def jobs_fail_stuck(*, stuck_after_seconds: int | None = None, batch_size: int = 1000) -> int:
    """Mark jobs that stopped responding as failed, and (through its task's failure hook) the
    business row behind each of them.

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
    # The database's clock, as started_at and updated_at's (config.core.services): this host's own
    # may be minutes off the worker's that started the job.
    now = db_now()
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
            push.on_commit_publish(job.task_id)  # its watchers see the failure, as any other
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


def percentile_of(values: models.QuerySet, q: float) -> Any:
    """``percentile`` of a one-column ``values_list`` queryset, computed by the database: one count
    and one ``ORDER BY … LIMIT 1 OFFSET rank - 1``, so a day of a million uploads never comes into
    memory (issue 17: the statistics job's peak RSS grew with the day's rows). Any database."""
    n = values.count()
    if not n:
        return None
    rank = max(1, math.ceil(q / 100 * n))
    column = values.query.values_select[0]
    return values.order_by(column)[rank - 1]


def _reason_counts(errors: Iterable[str]) -> dict[str, int]:
    counts = Counter((error or "").strip()[:200] or "(no message)" for error in errors)
    kept = dict(counts.most_common(REASONS_KEPT))
    rest = sum(counts.values()) - sum(kept.values())
    if rest:
        kept["(other reasons)"] = rest
    return kept


def _job_errors(start: datetime, end: datetime) -> list[str]:
    """One error text per job that failed that day (the periodic jobs' own excepted)."""
    return list(
        Job.objects.filter(state=Job.State.FAILURE, finished_at__gte=start, finished_at__lt=end)
        .exclude(task_name__startswith="ops.")
        .values_list("error", flat=True)
    )


def statistics_compute(*, day: date) -> DailyStatistics:
    """Compute one day from scratch and store it: running it again replaces, never adds.

    Every figure starts at its field's default and each app's registered figures fill in theirs;
    the failures are every failed job plus the failures the apps report without one.
    """
    start, end = day_bounds(day)
    values: dict[str, Any] = {
        f.name: f.get_default() for f in DailyStatistics._meta.concrete_fields if f.name not in OWN_FIELDS
    }
    for name, figures in registry.all_figures():
        found = figures(start, end)
        unknown = set(found) - set(values)
        if unknown:
            raise ValueError(f"daily figures {name!r}: no DailyStatistics field {sorted(unknown)}")
        values.update(found)
    errors = _job_errors(start, end)
    for _, reasons in registry.all_failure_reasons():
        errors += reasons(start, end)
    values["failures"] = len(errors)
    values["failures_by_reason"] = _reason_counts(errors)
    stats, _ = DailyStatistics.objects.update_or_create(day=day, defaults=values)
    return stats


def statistics_run(*, days_back: int = 1, today: date | None = None) -> dict[str, Any]:
    """Recompute today and the ``days_back`` days before it (yesterday's late finishes count)."""
    today = today or local_today()
    days = [today - timedelta(days=n) for n in range(max(0, days_back) + 1)]
    for day in days:
        statistics_compute(day=day)
    return {"days": [d.isoformat() for d in days]}
