"""The compression task: thin. It loads the image and calls the service."""

from __future__ import annotations

from celery import shared_task

from config.core import retry
from config.core.errors import HumanError, TransientError
from config.core.jobtask import JobTask

from . import selectors, services


class CompressImageTask(JobTask):
    abstract = True
    # Safe to interrupt anywhere: it writes renditions under a fresh folder, deletes them if it is
    # interrupted, and swaps them in with one transaction that a cancelled image refuses. A cancel
    # signals it at once rather than letting a large picture finish for nobody.
    cancel_terminates = True

    def settle_cancel(self, task_id: str, image_id: int | None = None, **kwargs) -> bool:
        return True if image_id is None else services.image_cancel(image_id=image_id, task_id=task_id)

    def settle_failure(self, message: str, task_id: str, image_id: int | None = None, **kwargs) -> None:
        # Every final failure lands here, including a hard time limit and a job given up after
        # crashing its worker: the image shows the same sentence as its job.
        if image_id is not None:
            services.image_fail(image_id=image_id, task_id=task_id, error=message)


@shared_task(
    name=services.TASK_NAME,
    base=CompressImageTask,
    bind=True,
    # Storage errors retry on the storage retry budget (seconds), not a count of tries.
    max_retries=retry.STORAGE.max_retries,
)
def compress_image(self, image_id: int) -> dict:
    image = selectors.image_for_work(image_id=image_id)
    if image is None:
        return {"image_id": image_id, "skipped": "deleted"}
    if image.job is not None and image.job.task_id != self.request.id:
        # A late delivery of a job the image no longer follows (it was re-run since).
        return {"image_id": image_id, "skipped": "superseded"}
    try:
        return services.image_compress(image=image, progress=self.progress)
    except TransientError as exc:
        countdown = retry.STORAGE.countdown(self.request.retries)
        if countdown is None:
            raise HumanError(services.MESSAGE_STORAGE_DOWN) from exc
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(
    name=services.SQUARE_TASK_NAME,
    base=JobTask,
    bind=True,
    max_retries=retry.STORAGE.max_retries,
)
def render_square(self, image_id: int) -> dict:
    """Cut an image's squares again around its focal point (after the owner moved it)."""
    image = selectors.image_for_work(image_id=image_id)
    if image is None:
        return {"image_id": image_id, "skipped": "deleted"}
    try:
        return services.image_render_square(image=image)
    except TransientError as exc:
        countdown = retry.STORAGE.countdown(self.request.retries)
        if countdown is None:
            raise HumanError(services.MESSAGE_STORAGE_DOWN) from exc
        raise self.retry(exc=exc, countdown=countdown) from exc
