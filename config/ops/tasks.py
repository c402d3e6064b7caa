"""Periodic jobs. Their schedules and keyword arguments live in the admin (django-celery-beat);
the defaults here are what a schedule with empty kwargs gets."""

from celery import shared_task

from config.core import services as job_services

from . import services
from .periodic import PERIODIC, run_periodic

CLEANUP_TASK = "ops.cleanup"
STATISTICS_TASK = "ops.statistics"
REDISPATCH_TASK = "ops.redispatch"


# A large store takes a while to walk; the no-pile-up lock and the stuck-job check follow this limit.
@shared_task(name=CLEANUP_TASK, soft_time_limit=1800, time_limit=1860, **PERIODIC)
def cleanup(
    self,
    result_retention_days: float = 30,
    batch_size: int = 1000,
    stuck_after_seconds: int | None = None,
    rest_ratio: float = 1.0,
    **options,
) -> dict:
    """Jobs that stopped responding, old task results, and every app's sweeps (expired exports,
    orphaned files …), which take the options they name (orphan_grace_hours, export_grace_hours …).
    After each batch it rests rest_ratio times as long as the batch took, so the site keeps its pace."""
    return run_periodic(
        self,
        services.cleanup_run,
        result_retention_days=result_retention_days,
        batch_size=batch_size,
        stuck_after_seconds=stuck_after_seconds,
        rest_ratio=rest_ratio,
        **options,
    )


@shared_task(name=STATISTICS_TASK, **PERIODIC)
def statistics(self, days_back: int = 1) -> dict:
    """Recompute the daily statistics of today and the days_back days before."""
    return run_periodic(self, services.statistics_run, days_back=days_back)


@shared_task(name=REDISPATCH_TASK, **PERIODIC)
def redispatch(self, older_than_seconds: int | None = None, limit: int = 500) -> dict:
    """Send jobs stuck in QUEUED because the broker was down when they were written."""
    return run_periodic(self, _redispatch, older_than_seconds=older_than_seconds, limit=limit)


def _redispatch(*, older_than_seconds: int | None, limit: int) -> dict:
    return {"sent": job_services.job_redispatch(older_than_seconds=older_than_seconds, limit=limit)}
