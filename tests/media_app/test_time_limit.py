"""A compression killed by the hard time limit: the job and the image both end FAILED.

The worker's main process kills the pool child, so no code runs in the child; Celery calls the
result backend in the main process, which fails the job and the image in one transaction: no reader
ever sees the job FAILURE beside its image still PROCESSING.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.conf import settings
from PIL import Image as PILImage

from media_app.models import Image
from tests.harness import ROOT, WorkerProcess, child_env
from tests.helpers import UPLOAD_SCRIPT

pytestmark = [pytest.mark.timing, pytest.mark.django_db(transaction=True)]


def test_hard_time_limit_fails_the_job_and_the_image(user, photos, tmp_path, wait_job):
    from config.core import devredis

    big = tmp_path / "big.jpg"
    with PILImage.open(photos / "Landscape_0.jpg") as im:
        im.convert("RGB").resize((10000, 9000)).save(big, quality=90)

    redis_proc, url = devredis.start_private_redis(data_dir=settings.VAR_DIR / f"redis-tl-{tmp_path.name}")
    worker = WorkerProcess(
        queues="media",
        concurrency=1,
        # A 90 MP photo with the slowest WebP method takes several seconds; the limit is 1 s
        # (billiard checks limits about once a second, so the margin must be wide).
        env={
            "CELERY_BROKER_URL": url,
            "CELERY_TASK_TIME_LIMIT": "1",
            # No soft limit: the async pool arms the hard timer only after the soft one fires.
            "CELERY_TASK_SOFT_TIME_LIMIT": "0",
            "MEDIA_WEBP_METHOD": "6",
            "MEDIA_MAX_PIXELS": "100000000",
        },
    )
    try:
        worker.start()
        out = subprocess.run(
            [sys.executable, "-c", UPLOAD_SCRIPT, user.username, str(big)],
            cwd=ROOT,
            env=child_env(CELERY_BROKER_URL=url, MEDIA_MAX_PIXELS="100000000"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        body = json.loads(out.stdout.strip().splitlines()[-1])["body"]
        job = wait_job(body["task_id"], timeout=60)
        assert job.state == "FAILURE" and job.error == "This job took too long and was stopped."
        image = Image.objects.get(pk=body["image_id"])
        assert image.state == "FAILED" and image.error == job.error
        assert not image.renditions.exists()
    finally:
        worker.stop()
        devredis.stop(redis_proc)


def test_the_result_backend_fails_the_image_with_its_job_in_one_transaction(user):
    """The backend's failure path alone (as the worker's main process runs it after a hard time limit)
    settles the image: nothing is left for a later hook that a dying worker might never run."""
    import uuid

    from billiard.exceptions import TimeLimitExceeded
    from celery.app.task import Context

    from config.celery_app import app
    from config.core.models import Job

    app.loader.import_default_modules()
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
    Image.objects.filter(pk=image.pk).update(job=job)
    request = Context(id=job.task_id, task="media_app.compress_image", args=[image.pk], kwargs={})

    app.backend.mark_as_failure(job.task_id, TimeLimitExceeded(1.0), request=request)

    job.refresh_from_db()
    image.refresh_from_db()
    assert job.state == "FAILURE" and job.error == "This job took too long and was stopped."
    assert image.state == "FAILED" and image.error == job.error


def test_a_broken_business_hook_still_fails_the_job(user, monkeypatch):
    import uuid

    from celery.app.task import Context

    from config.celery_app import app
    from config.core.models import Job

    app.loader.import_default_modules()
    task = app.tasks["media_app.compress_image"]

    def broken(*args, **kwargs):
        raise RuntimeError("storage exploded")

    monkeypatch.setattr(task, "settle_failure", broken)
    job = Job.objects.create(
        task_id=str(uuid.uuid4()),
        owner=user,
        kind="media_app.compress",
        task_name="media_app.compress_image",
        args=[1],
        state="STARTED",
    )
    request = Context(id=job.task_id, task="media_app.compress_image", args=[1], kwargs={})
    app.backend.mark_as_failure(job.task_id, RuntimeError("boom"), request=request)
    assert Job.objects.get(pk=job.pk).state == "FAILURE"
