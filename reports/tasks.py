from celery import shared_task
from django.conf import settings

from config.core.errors import TransientError
from config.core.jobtask import JobTask

from . import services

MAX_RETRIES = 5


class BuildExportTask(JobTask):
    abstract = True

    def settle_failure(self, message: str, task_id: str, export_id: int | None = None, **kwargs) -> None:
        # A hard time limit or a crash loop ends the job without running export code: the export
        # row follows here, loses any partial file and gets an expiry, so cleanup removes it.
        if export_id is not None:
            services.export_fail(export_id=export_id, message=message)


@shared_task(
    name="reports.build_export",
    base=BuildExportTask,
    bind=True,
    autoretry_for=(TransientError,),
    max_retries=MAX_RETRIES,
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    # A million rows take a while; both limits stay well below the broker's visibility timeout,
    # or Redis would hand a still-running export to a second worker.
    soft_time_limit=settings.REPORTS_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.REPORTS_TASK_TIME_LIMIT,
)
def build_export(self, export_id: int) -> dict:
    return services.export_build(
        export_id=export_id,
        on_progress=self.progress,
        final_attempt=self.request.retries >= MAX_RETRIES,
    )
