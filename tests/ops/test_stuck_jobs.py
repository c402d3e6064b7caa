"""The stuck-job sweep as a service: one business row that cannot be settled stops nothing else."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery_app import app
from config.core.models import Job
from config.ops import services
from media_app.models import Image

pytestmark = pytest.mark.django_db(transaction=True)


def stuck_image(user, long_ago) -> tuple[Image, Job]:
    image = Image.objects.create(
        owner=user, original=f"media/originals/{user.pk}/x.jpg", original_format="JPEG", state="PROCESSING"
    )
    job = Job.objects.create(
        task_id=str(uuid.uuid4()),
        owner=user,
        kind="media_app.compress",
        task_name="media_app.compress_image",
        args=[image.pk],
        state="STARTED",
    )
    Job.objects.filter(pk=job.pk).update(started_at=long_ago, updated_at=long_ago)
    Image.objects.filter(pk=image.pk).update(job=job)
    return image, job


def test_a_failing_settle_is_logged_and_the_sweep_goes_on(user, monkeypatch, caplog):
    long_ago = timezone.now() - timedelta(hours=3)
    broken_image, broken_job = stuck_image(user, long_ago)
    image, job = stuck_image(user, long_ago)
    app.loader.import_default_modules()
    task = app.tasks["media_app.compress_image"]
    settle = task.settle_failure

    def settle_or_break(message, task_id, image_id=None, **kwargs):
        if image_id == broken_image.pk:
            raise RuntimeError("storage exploded")
        settle(message, task_id, image_id, **kwargs)

    monkeypatch.setattr(task, "settle_failure", settle_or_break)

    # Straight onto the module's logger: loading the Celery app may reconfigure the root one.
    services.logger.addHandler(caplog.handler)
    try:
        # Batches of one: the broken row comes first, the other one in a later batch.
        assert services.jobs_fail_stuck(batch_size=1) == 2
    finally:
        services.logger.removeHandler(caplog.handler)

    assert broken_job.task_id in caplog.text
    assert set(Job.objects.filter(pk__in=[broken_job.pk, job.pk]).values_list("state", flat=True)) == {
        "FAILURE"
    }
    image.refresh_from_db()
    assert image.state == "FAILED" and image.error == services.MESSAGE_STUCK
    broken_image.refresh_from_db()
    assert broken_image.state == "PROCESSING"  # the hook failed; the job row is settled all the same


def test_a_job_that_moved_on_is_neither_failed_nor_settled(user):
    long_ago = timezone.now() - timedelta(hours=3)
    image, job = stuck_image(user, long_ago)
    # It reported progress a moment ago: alive after all.
    Job.objects.filter(pk=job.pk).update(state="PROGRESS", updated_at=timezone.now())

    assert services.jobs_fail_stuck() == 0

    assert Job.objects.get(pk=job.pk).state == "PROGRESS"
    assert Image.objects.get(pk=image.pk).state == "PROCESSING"
