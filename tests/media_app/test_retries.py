"""Storage errors are retried with backoff; a task given up leaves nothing behind.

These run on a worker of their own whose storage fails on demand (flaky.py), on a Redis database
of their own so the session's worker never takes their messages.
"""

from __future__ import annotations

from unittest import mock

import pytest
from django.conf import settings
from django.core.cache import cache

from config.celery_app import app
from config.core.models import Job
from media_app import imaging, services
from media_app.models import Image, Rendition
from tests.harness import WorkerProcess
from tests.helpers import PHOTO_RENDITIONS, as_upload, other_db, stored_files
from tests.media_app.flaky import flaky_key

pytestmark = [pytest.mark.timing, pytest.mark.django_db(transaction=True), pytest.mark.reliability]


@pytest.fixture(scope="module")
def flaky_worker(django_db_setup, django_db_blocker):
    broker = other_db(settings.CELERY_BROKER_URL)
    with django_db_blocker.unblock():
        worker = WorkerProcess(
            queues="media",
            concurrency=1,
            env={"DJANGO_SETTINGS_MODULE": "tests.media_app.flaky_settings", "CELERY_BROKER_URL": broker},
        ).start()
    worker.broker = broker
    yield worker
    worker.stop()


def upload_to(worker, user, path, failures: int) -> Image:
    f = as_upload(path)
    probe = imaging.probe(f, max_pixels=settings.MEDIA_MAX_PIXELS)
    with mock.patch("config.core.services.job_send"):  # sent below, to the flaky worker's broker
        [image] = services.image_upload(owner=user, uploads=[services.Upload(file=f, probe=probe, title="t")])
    cache.set(flaky_key(image.pk), failures, timeout=600)
    with app.connection_for_write(worker.broker) as conn:
        app.send_task(image.job.task_name, args=image.job.args, task_id=image.job.task_id, connection=conn)
    Job.objects.filter(pk=image.job.pk).update(sent_at=image.job.created_at)
    return image


def test_storage_errors_are_retried_and_leave_one_clean_set(flaky_worker, user, photos, wait_job):
    image = upload_to(flaky_worker, user, photos / "Landscape_6.jpg", failures=2)
    job = wait_job(image.job.task_id, timeout=60)
    assert job.state == "SUCCESS" and job.attempts == 3 and job.error == ""
    image.refresh_from_db()
    assert image.state == "READY"
    rows = sorted(Rendition.objects.filter(image=image).values_list("file", flat=True))
    assert len(rows) == PHOTO_RENDITIONS
    # The two failed attempts had written large.jpg, large.webp and medium.jpg: all gone.
    assert stored_files(f"media/renditions/{user.pk}/{image.pk}") == rows


def test_storage_that_stays_down_fails_after_five_retries_with_a_clear_message(
    flaky_worker, user, photos, wait_job
):
    image = upload_to(flaky_worker, user, photos / "Portrait_6.jpg", failures=99)
    job = wait_job(image.job.task_id, timeout=120)
    assert job.state == "FAILURE" and job.attempts == 6  # the first run and five retries
    assert job.error == services.MESSAGE_STORAGE_DOWN
    image.refresh_from_db()
    assert image.state == "FAILED" and image.error == job.error
    assert not Rendition.objects.filter(image=image).exists()
    assert stored_files(f"media/renditions/{user.pk}/{image.pk}") == []
