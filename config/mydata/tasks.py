from celery import shared_task

from config.core import retry
from config.core.errors import TransientError
from config.core.jobtask import JobTask

from . import services


class ArchiveTask(JobTask):
    abstract = True

    def settle_failure(self, message: str, task_id: str, archive_id: int | None = None, **kwargs) -> None:
        if archive_id is not None:
            services.archive_fail(archive_id=archive_id, message=message)


@shared_task(name=services.ARCHIVE_TASK, base=ArchiveTask, bind=True, max_retries=retry.STORAGE.max_retries)
def build_archive(self, archive_id: int) -> dict:
    try:
        return services.archive_build(archive_id=archive_id, progress=self.progress)
    except TransientError as exc:
        countdown = retry.STORAGE.countdown(self.request.retries)
        if countdown is None:
            raise
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(name=services.ERASE_TASK, bind=True, acks_late=True)
def erase_account(self, user_id: int) -> dict:
    return services.account_erase(user_id=user_id)
