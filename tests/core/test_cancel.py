"""Cancelling a job: POST /tasks/<id>/cancel/ on real workers, a real Redis and the real database.

A queued job never runs, even when its message reaches a worker that never heard of the revoke; a
running export stops at its next progress point and leaves no file; a running compression is
signalled at once and leaves no rendition; a finished job is a 409; someone else's is a 404.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.test import Client
from django_celery_results.models import TaskResult
from PIL import Image as PILImage

from config.core import devredis, services
from config.core.errors import MESSAGE_CANCELLED
from config.core.models import Job
from media_app.models import Image, Rendition
from reports.models import Export
from tests.harness import WorkerProcess, publishing_to
from tests.helpers import HTML, JSON, as_upload, post_upload, stored_files

pytestmark = pytest.mark.django_db(transaction=True)


def submit(owner, name="tests.echo", **kwargs) -> Job:
    with transaction.atomic():
        return services.job_create(owner=owner, kind="test", task_name=name, kwargs=kwargs)


def cancel(client, task_id: str, **headers):
    return client.post(f"/tasks/{task_id}/cancel/", **(headers or JSON))


def wait_until(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout}s")


def ledger_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def logged(worker: WorkerProcess, text: str) -> bool:
    return text in worker.log_path.read_text(errors="replace")


@pytest.fixture
def photos(testdata) -> Path:
    return testdata / "images" / "photos"


@pytest.fixture
def private_broker(tmp_path):
    """A Redis of this test's own, which no worker consumes until the test starts one."""
    proc, url = devredis.start_private_redis(data_dir=settings.VAR_DIR / f"redis-cancel-{tmp_path.name}")
    yield url
    devredis.stop(proc)


# --- queued ---------------------------------------------------------------------------------------


def test_a_cancelled_queued_job_never_runs_even_when_its_message_arrives_later(
    user, owner_client, private_broker, photos, tmp_path, wait_job
):
    ledger = tmp_path / "ledger.txt"
    with publishing_to(private_broker):
        queued = submit(user, name="tests.ledger", path=str(ledger))
        response = post_upload(owner_client, photos / "Landscape_3.jpg")
        assert response.status_code == 202
        image_id, image_task = response.json()["image_id"], response.json()["task_id"]

        # The JSON client cancels the ledger job; the browser uses the button on the image's page.
        body = cancel(owner_client, queued.task_id).json()
        assert body["state"] == "CANCELLED" and body["error"] == MESSAGE_CANCELLED
        assert body["poll_after_ms"] is None
        page = owner_client.get(f"/media/{image_id}/", **HTML).content.decode()
        assert f'action="/tasks/{image_task}/cancel/"' in page
        clicked = owner_client.post(f"/tasks/{image_task}/cancel/", {"next": f"/media/{image_id}/"}, **HTML)
        assert clicked.status_code == 303 and clicked["Location"] == f"/media/{image_id}/"
    page = owner_client.get(f"/media/{image_id}/", **HTML).content.decode()
    assert "Cancelled" in page and f"/tasks/{image_task}/cancel/" not in page
    image = Image.objects.get(pk=image_id)
    assert image.state == "CANCELLED" and image.job.state == "CANCELLED"

    # Both messages are still in the queue. A worker that starts now never saw the revoke broadcast:
    # only the job row keeps them from running.
    worker = WorkerProcess(queues="default,media", concurrency=1, env={"CELERY_BROKER_URL": private_broker})
    try:
        worker.start()
        with publishing_to(private_broker):
            sentinel = submit(user, name="tests.ledger", path=str(ledger))
        assert wait_job(sentinel.task_id).state == "SUCCESS"
        wait_until(lambda: logged(worker, f"media_app.compress_image[{image_task}] ignored"), 30, "skip")
    finally:
        worker.stop()
    assert [line.split()[:2] for line in ledger_lines(ledger)] == [
        ["start", sentinel.task_id],
        ["done", sentinel.task_id],
    ]
    queued.refresh_from_db()
    assert queued.state == "CANCELLED" and queued.attempts == 0 and queued.started_at is None
    image.refresh_from_db()
    assert image.state == "CANCELLED" and not image.renditions.exists()


# --- running export: cooperative ------------------------------------------------------------------


def export_temp_files(export_id: int) -> list[str]:
    return [p.name for p in Path(tempfile.gettempdir()).glob(f"backroom-export-{export_id}-*.xlsx")]


def test_cancelling_a_running_export_stops_it_at_its_next_progress_point_and_leaves_no_file(
    celery_worker, user, owner_client
):
    rows = 60_000  # several seconds of writing: the cancel lands while it runs
    Job.objects.bulk_create(
        Job(task_id=str(uuid.uuid4()), owner=user, kind="bulk", task_name="x", state="SUCCESS")
        for _ in range(rows)
    )
    body = owner_client.post("/reports/exports/", {"kind": "job_history"}, **JSON).json()
    task_id, export_id = body["task_id"], body["export_id"]
    wait_until(
        lambda: Job.objects.filter(task_id=task_id, state="PROGRESS", progress_current__gt=0).exists(),
        60,
        "export under way",
    )
    page = owner_client.get("/reports/", **HTML).content.decode()
    assert f'action="/tasks/{task_id}/cancel/"' in page

    response = cancel(owner_client, task_id)
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "CANCELLED"

    # The execution ends quietly (Celery logs it "ignored"), not by writing the rest of the rows.
    wait_until(lambda: logged(celery_worker, f"reports.build_export[{task_id}] ignored"), 60, "stop")
    export = Export.objects.get(pk=export_id)
    assert export.state == "CANCELLED" and export.file.name == "" and export.rows == 0
    assert not default_storage.exists(export.storage_name)
    assert export_temp_files(export_id) == []
    job = Job.objects.get(task_id=task_id)
    assert job.state == "CANCELLED" and job.progress_current < rows
    status = owner_client.get(f"/reports/exports/{export_id}/", **JSON).json()
    assert status["state"] == "CANCELLED" and status["download_url"] is None
    assert not TaskResult.objects.filter(task_id=task_id, status="SUCCESS").exists()


# --- running compression: terminated --------------------------------------------------------------


def test_cancelling_a_running_compression_terminates_it_and_leaves_no_rendition(
    user, owner_client, private_broker, photos, tmp_path, settings
):
    big = tmp_path / "big.jpg"
    with PILImage.open(photos / "Landscape_0.jpg") as im:
        im.convert("RGB").resize((10000, 9000)).save(big, quality=90)
    settings.MEDIA_MAX_PIXELS = 100_000_000
    # A 90 MP photo with the slowest WebP method takes several seconds (as in test_time_limit).
    worker = WorkerProcess(
        queues="media",
        concurrency=1,
        env={"CELERY_BROKER_URL": private_broker, "MEDIA_WEBP_METHOD": "6", "MEDIA_MAX_PIXELS": "100000000"},
    )
    try:
        worker.start()
        pool_before = worker.child_pids()
        with publishing_to(private_broker):
            response = post_upload(owner_client, as_upload(big))
            assert response.status_code == 202, response.content
            task_id, image_id = response.json()["task_id"], response.json()["image_id"]
            wait_until(lambda: Job.objects.filter(task_id=task_id, state="PROGRESS").exists(), 60, "started")
            assert cancel(owner_client, task_id).status_code == 200
        # The worker's main process signals the pool child and records the revoke at once.
        revoked = TaskResult.objects.filter(task_id=task_id, status="REVOKED")
        wait_until(revoked.exists, 30, "revoke")
        wait_until(lambda: logged(worker, f"Terminating {task_id}"), 30, "terminate")
        wait_until(lambda: logged(worker, f"media_app.compress_image[{task_id}] ignored"), 60, "stop")
        # SIGUSR1 raised inside the task, which cleaned up; the pool process itself lives on.
        assert worker.child_pids() == pool_before
    finally:
        worker.stop()
    image = Image.objects.get(pk=image_id)
    assert image.state == "CANCELLED" and image.job.state == "CANCELLED"
    assert not Rendition.objects.filter(image_id=image_id).exists()
    assert stored_files(f"media/renditions/{user.pk}/{image_id}") == []
    detail = owner_client.get(f"/media/{image_id}/", **JSON).json()
    assert detail["state"] == "CANCELLED" and detail["renditions"] == []


# --- refusals -------------------------------------------------------------------------------------


def test_a_finished_job_is_a_409_with_a_sentence_and_stays_as_it_was(
    celery_worker, user, owner_client, wait_job
):
    job = wait_job(submit(user, value=1).task_id)
    response = cancel(owner_client, job.task_id)
    assert response.status_code == 409
    assert response.json()["error"] == "This job has already finished, so there is nothing left to cancel."
    assert response.json()["state"] == "SUCCESS"
    browser = owner_client.post(f"/tasks/{job.task_id}/cancel/", {"next": "/reports/"}, **HTML)
    assert browser.status_code == 303 and browser["Location"] == "/reports/"
    assert "already finished" in owner_client.get("/reports/", **HTML).content.decode()
    job.refresh_from_db()
    assert job.state == "SUCCESS" and job.result["value"] == 1


def test_someone_elses_unknown_or_malformed_job_is_a_404_and_a_post_needs_csrf(
    user, other_client, owner_client, private_broker
):
    with publishing_to(private_broker):
        job = submit(user)
    assert cancel(other_client, job.task_id).status_code == 404
    assert cancel(other_client, str(uuid.uuid4())).status_code == 404
    assert cancel(other_client, "not-a-uuid").status_code == 404
    assert Client().post(f"/tasks/{job.task_id}/cancel/", **JSON).status_code == 404  # anonymous
    assert owner_client.get(f"/tasks/{job.task_id}/cancel/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert cancel(strict, job.task_id).status_code == 403
    # A redirect target elsewhere is refused: back to our own front page.
    with publishing_to(private_broker):
        moved = owner_client.post(f"/tasks/{job.task_id}/cancel/", {"next": "https://evil.example/"}, **HTML)
    assert moved.status_code == 303 and moved["Location"] == "/"
    job.refresh_from_db()
    assert job.state == "CANCELLED"


def test_a_cancelled_job_keeps_its_state_whatever_its_execution_reports_later(user, private_broker):
    with publishing_to(private_broker):
        job = submit(user)
        services.job_cancel(job=job)
    assert services.job_finish(task_id=job.task_id, state="SUCCESS", result={"late": True}) is False
    assert services.job_finish(task_id=job.task_id, state="FAILURE", error="late") is False
    assert services.job_progress(task_id=job.task_id, current=1, total=2) is False
    decision, _ = services.job_start(task_id=job.task_id, task_name="tests.echo")
    assert decision == services.StartDecision.SKIP
    job.refresh_from_db()
    assert job.state == "CANCELLED" and job.result is None and job.error == MESSAGE_CANCELLED
    with pytest.raises(services.JobAlreadyFinished):
        services.job_cancel(job=job)
