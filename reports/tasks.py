import logging

from celery import shared_task
from celery.signals import worker_process_init
from django.conf import settings

from config.core import retry
from config.core.errors import TransientError
from config.core.jobtask import JobTask
from config.ops.periodic import PERIODIC, run_periodic

from . import services

logger = logging.getLogger(__name__)


@worker_process_init.connect
def _sweep_export_temp_files(**kwargs) -> None:
    """Remove workbooks a killed export left in this install's temp directory, once they are old.

    A hard-killed pool process never reaches the export's `finally`. ops.cleanup sweeps the temp
    directory of the machine it runs on; this covers the machines reports workers run on, each
    time a pool process starts (every --max-tasks-per-child exports, and after every kill). One
    scan of settings.REPORTS_TEMP_DIR (under the install's var dir), no database.
    """
    try:
        services.export_temp_files_delete()
    except Exception:  # never stop a pool process from starting over a temp file
        logger.exception("could not sweep export temp files")


class BuildExportTask(JobTask):
    abstract = True
    # Not signalled on cancel (cancel_terminates stays False): the export checks at each progress
    # point instead (every 2,000 rows, a fraction of a second), where it can remove its temporary
    # file and any stored one itself.

    def settle_cancel(self, task_id: str, export_id: int | None = None, **kwargs) -> bool:
        return True if export_id is None else services.export_cancel(export_id=export_id, task_id=task_id)

    def settle_failure(self, message: str, task_id: str, export_id: int | None = None, **kwargs) -> None:
        # A hard time limit or a crash loop ends the job without running export code: the export
        # row follows here, loses any partial file and gets an expiry, so cleanup removes it.
        if export_id is not None:
            services.export_fail(export_id=export_id, message=message, task_id=task_id)


@shared_task(
    name=services.TASK_NAME,
    base=BuildExportTask,
    bind=True,
    # Storage and database hiccups retry on the storage retry budget (seconds), not a count of tries.
    max_retries=retry.STORAGE.max_retries,
    # A million rows take a while; both limits stay well below the broker's visibility timeout,
    # or Redis would hand a still-running export to a second worker.
    soft_time_limit=settings.REPORTS_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.REPORTS_TASK_TIME_LIMIT,
)
def build_export(self, export_id: int) -> dict:
    countdown = retry.STORAGE.countdown(self.request.retries)
    try:
        return services.export_build(
            export_id=export_id, on_progress=self.progress, final_attempt=countdown is None
        )
    except TransientError as exc:
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(name=services.SCHEDULE_TASK, **PERIODIC)
def run_schedule(self, schedule_id: int) -> dict:
    """A person's scheduled report, sent by beat: one run per period (the slot beat names), and
    never two runs of the same schedule at once (other people's schedules do not wait)."""
    running = f"{services.SCHEDULE_TASK}:{schedule_id}"
    return run_periodic(self, services.schedule_run, running_key=running, schedule_id=schedule_id)
