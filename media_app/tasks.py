"""The compression task: thin. It loads the image and calls the service."""

from __future__ import annotations

from celery import shared_task

from config.core.errors import HumanError, TransientError
from config.core.jobtask import JobTask

from . import selectors, services


class CompressImageTask(JobTask):
    abstract = True

    def settle_failure(self, message: str, task_id: str, image_id: int | None = None, **kwargs) -> None:
        # Every final failure lands here, including a hard time limit and a job given up after
        # crashing its worker: the image shows the same sentence as its job.
        if image_id is not None:
            services.image_fail(image_id=image_id, task_id=task_id, error=message)


@shared_task(
    name="media_app.compress_image",
    base=CompressImageTask,
    bind=True,
    autoretry_for=(TransientError,),
    max_retries=5,
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
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
        if self.request.retries >= self.max_retries:
            raise HumanError(services.MESSAGE_STORAGE_DOWN) from exc
        raise


@shared_task(
    name="media_app.render_square",
    base=JobTask,
    bind=True,
    autoretry_for=(TransientError,),
    max_retries=5,
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
)
def render_square(self, image_id: int) -> dict:
    """Cut an image's squares again around its focal point (after the owner moved it)."""
    image = selectors.image_for_work(image_id=image_id)
    if image is None:
        return {"image_id": image_id, "skipped": "deleted"}
    return services.image_render_square(image=image)
