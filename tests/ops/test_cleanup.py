"""The nightly cleanup on a real worker: exactly the expired and orphaned things go."""

import os
import tempfile
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django_celery_results.models import TaskResult

from config.core import services as job_services
from config.core.models import Job
from config.ops.services import MESSAGE_STUCK
from media_app.models import Image, Rendition
from reports import services as report_services
from reports.models import Export

pytestmark = pytest.mark.django_db(transaction=True)

OLD = time.time() - 3 * 24 * 3600


def stored(name: str, data: bytes, *, old: bool) -> str:
    name = default_storage.save(name, ContentFile(data))
    if old:
        os.utime(default_storage.path(name), (OLD, OLD))
    return name


@pytest.fixture(autouse=True)
def _no_stale_export_temp_files():
    """Sweep, by the product's own rule, what a killed worker of this run left earlier in its temp
    directory, so each test counts only the files it made."""
    report_services.export_temp_files_delete()


def run_cleanup(wait_job, **kwargs):
    with transaction.atomic():
        job = job_services.job_create(owner=None, kind="ops.cleanup", task_name="ops.cleanup", kwargs=kwargs)
    done = wait_job(job.task_id, timeout=120)
    assert done.state == "SUCCESS", done.error
    return done.result


def test_cleanup_deletes_exactly_the_expired_and_orphaned(celery_worker, user, wait_job):
    now = timezone.now()
    run = uuid.uuid4().hex[:8]
    # Kept: an old original and its rendition, both referenced by rows.
    original = stored(f"media/originals/{user.pk}/{run}-kept.jpg", b"o" * 300, old=True)
    image = Image.objects.create(owner=user, original=original, original_format="JPEG")
    rendition = stored(f"media/renditions/{user.pk}/{run}/large.webp", b"r" * 120, old=True)
    Rendition.objects.create(
        image=image, name="large", format="WEBP", file=rendition, width=10, height=10, bytes=120
    )
    # Kept: an upload in flight, stored a moment ago, its row not written yet.
    in_flight = stored(f"media/originals/{user.pk}/{run}-inflight.jpg", b"i" * 50, old=False)
    # Deleted: old files no row references (a crashed upload; a rendition left by a re-run).
    orphan = stored(f"media/originals/{user.pk}/{run}-orphan.jpg", b"x" * 700, old=True)
    orphan_rendition = stored(f"media/renditions/{user.pk}/{run}/old/thumb.jpg", b"t" * 30, old=True)
    # Deleted: an expired export, row and file. Kept: one still downloadable.
    expired_file = stored(f"exports/{run}-expired.xlsx", b"e" * 2000, old=True)
    expired = Export.objects.create(
        owner=user,
        kind="job_history",
        state="SUCCESS",
        file=expired_file,
        expires_at=now - timedelta(hours=1),
    )
    fresh_file = stored(f"exports/{run}-fresh.xlsx", b"f" * 900, old=True)
    fresh = Export.objects.create(
        owner=user, kind="job_history", state="SUCCESS", file=fresh_file, expires_at=now + timedelta(hours=5)
    )
    failed_export = Export.objects.create(
        owner=user, kind="job_history", state="FAILURE", expires_at=now - timedelta(minutes=1)
    )
    # Task results: three past the retention (purged in batches of two), one recent.
    old_results = [f"old-{run}-{i}" for i in range(3)]
    for task_id in [*old_results, f"new-{run}"]:
        TaskResult.objects.create(task_id=task_id, status="SUCCESS", task_name="tests.echo")
    TaskResult.objects.filter(task_id__in=old_results).update(date_done=now - timedelta(days=31))
    # Jobs: one stopped responding hours ago; one started a minute ago; one waiting to retry (its
    # retry recorded 5 minutes ago, well inside max countdown + visibility timeout + time limit);
    # one whose retry was recorded hours ago and whose message the broker lost.
    stuck = Job.objects.create(task_id=str(uuid.uuid4()), kind="t", task_name="tests.echo", state="STARTED")
    busy = Job.objects.create(task_id=str(uuid.uuid4()), kind="t", task_name="tests.echo", state="PROGRESS")
    waiting = Job.objects.create(task_id=str(uuid.uuid4()), kind="t", task_name="tests.echo", state="RETRY")
    lost_retry = Job.objects.create(
        task_id=str(uuid.uuid4()), kind="t", task_name="tests.echo", state="RETRY"
    )
    long_ago = now - timedelta(hours=3)
    Job.objects.filter(pk__in=[stuck.pk, lost_retry.pk]).update(started_at=long_ago, updated_at=long_ago)
    Job.objects.filter(pk=waiting.pk).update(started_at=long_ago, updated_at=now - timedelta(minutes=5))
    Job.objects.filter(pk=busy.pk).update(started_at=now - timedelta(minutes=1))

    summary = run_cleanup(wait_job, batch_size=2)

    assert summary["files_deleted"] == 3
    assert summary["bytes_freed"] == 700 + 30 + 2000
    assert summary["exports_deleted"] == 2
    assert summary["orphans_deleted"] == 2
    assert summary["results_purged"] == 3
    assert summary["jobs_failed"] == 2
    assert summary["rows_deleted"] == 2 + 3 + summary["ops_jobs_purged"]
    for name in (original, rendition, in_flight, fresh_file):
        assert default_storage.exists(name), name
    for name in (orphan, orphan_rendition, expired_file):
        assert not default_storage.exists(name), name
    assert set(Export.objects.values_list("pk", flat=True)) == {fresh.pk}
    assert not Export.objects.filter(pk__in=[expired.pk, failed_export.pk]).exists()
    assert not TaskResult.objects.filter(task_id__in=old_results).exists()
    assert TaskResult.objects.filter(task_id=f"new-{run}").exists()
    stuck.refresh_from_db()
    assert stuck.state == "FAILURE" and stuck.error == MESSAGE_STUCK and stuck.finished_at
    assert Job.objects.get(pk=busy.pk).state == "PROGRESS"
    assert Job.objects.get(pk=waiting.pk).state == "RETRY"
    lost_retry.refresh_from_db()
    assert lost_retry.state == "FAILURE" and lost_retry.error == MESSAGE_STUCK and lost_retry.finished_at

    # Its summary is the job's result, and in TaskResult for operators.
    job = Job.objects.filter(task_name="ops.cleanup").latest("created_at")
    assert job.result == summary
    assert TaskResult.objects.get(task_id=job.task_id).status == "SUCCESS"

    # A second pass finds nothing more to do.
    again = run_cleanup(wait_job, batch_size=2)
    assert again["files_deleted"] == again["results_purged"] == again["jobs_failed"] == 0
    assert default_storage.exists(in_flight)


def test_old_periodic_job_rows_are_purged_with_the_results(celery_worker, wait_job):
    old = timezone.now() - timedelta(days=40)
    ops_job = Job.objects.create(
        task_id=str(uuid.uuid4()), kind="ops.redispatch", task_name="ops.redispatch", state="SUCCESS"
    )
    Job.objects.filter(pk=ops_job.pk).update(finished_at=old)
    summary = run_cleanup(wait_job, result_retention_days=30)
    assert summary["ops_jobs_purged"] == 1
    assert not Job.objects.filter(pk=ops_job.pk).exists()


def test_stuck_jobs_take_their_image_and_export_with_them(celery_worker, user, wait_job):
    """A job the sweep fails leaves no image PROCESSING and no export STARTED behind it."""
    long_ago = timezone.now() - timedelta(hours=3)
    image = Image.objects.create(
        owner=user,
        original=f"media/originals/{user.pk}/stuck.jpg",
        original_format="JPEG",
        state="PROCESSING",
    )
    image_job = Job.objects.create(
        task_id=str(uuid.uuid4()),
        owner=user,
        kind="media_app.compress",
        task_name="media_app.compress_image",
        args=[image.pk],
        state="PROGRESS",
    )
    Image.objects.filter(pk=image.pk).update(job=image_job)
    export = Export.objects.create(owner=user, kind=Export.Kind.JOB_HISTORY, state=Export.State.STARTED)
    # Waiting for a retry whose message the broker lost.
    export_job = Job.objects.create(
        task_id=str(uuid.uuid4()),
        owner=user,
        kind="reports.export",
        task_name="reports.build_export",
        args=[export.pk],
        state="RETRY",
    )
    Export.objects.filter(pk=export.pk).update(job=export_job)
    # A task this deployment no longer knows: its job is failed, there is nothing else to settle.
    unknown = Job.objects.create(task_id=str(uuid.uuid4()), kind="t", task_name="gone.task", state="STARTED")
    Job.objects.filter(pk__in=[image_job.pk, export_job.pk, unknown.pk]).update(
        started_at=long_ago, updated_at=long_ago
    )

    summary = run_cleanup(wait_job)

    assert summary["jobs_failed"] == 3
    for job in (image_job, export_job, unknown):
        job.refresh_from_db()
        assert job.state == "FAILURE" and job.error == MESSAGE_STUCK, job.task_name
    image.refresh_from_db()
    assert image.state == Image.State.FAILED and image.error == MESSAGE_STUCK
    export.refresh_from_db()
    assert export.state == Export.State.FAILURE and export.error == MESSAGE_STUCK
    assert export.expires_at is not None and not export.file


def _temp_export_file(data: bytes, *, age_seconds: float) -> str:
    fd, path = tempfile.mkstemp(
        prefix=f"{report_services.TEMP_PREFIX}test-{uuid.uuid4().hex[:8]}-",
        suffix=report_services.TEMP_SUFFIX,
        dir=report_services.export_temp_dir(),
    )
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path


def test_cleanup_removes_export_temp_files_a_killed_worker_left(celery_worker, wait_job):
    # Older than the export task's hard time limit: no export can still be writing it.
    limit = settings.REPORTS_TASK_TIME_LIMIT
    left = _temp_export_file(b"PK\x03\x04 partial", age_seconds=limit + 600)
    # Written a moment ago: it may belong to an export running right now.
    running = _temp_export_file(b"PK\x03\x04 in progress", age_seconds=5)
    try:
        # Orphaned stored files are counted too: keep them out of this test's figures.
        summary = run_cleanup(wait_job, orphan_grace_hours=24 * 365 * 100)
        assert not os.path.exists(left)
        assert os.path.exists(running)
        assert summary["temp_files_deleted"] == 1
        assert summary["files_deleted"] == 1
        assert summary["bytes_freed"] == len(b"PK\x03\x04 partial")
    finally:
        for path in (left, running):
            if os.path.exists(path):
                os.unlink(path)
