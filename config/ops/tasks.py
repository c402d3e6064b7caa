from celery import shared_task

from config.core import services as job_services


@shared_task(name="ops.redispatch")
def redispatch(older_than_seconds: int | None = None, limit: int = 500) -> dict:
    """Send jobs stuck in QUEUED because the broker was down when they were written."""
    return {"sent": job_services.job_redispatch(older_than_seconds=older_than_seconds, limit=limit)}
