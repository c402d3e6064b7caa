"""Workers die: a pool child killed mid-task, the whole worker killed, a deploy's SIGTERM, a hard
time limit. Each scenario ends with every job final, none lost, no side effect done twice."""

from __future__ import annotations

import signal
import time

import pytest
from django.conf import settings

from config.core.errors import MESSAGE_TIMEOUT
from config.core.models import Job
from tests.reliability.faults import RESTORE_INTERVAL, VISIBILITY_TIMEOUT, kill

pytestmark = [pytest.mark.timing, pytest.mark.reliability, pytest.mark.django_db(transaction=True)]


def test_pool_child_killed_mid_task_reruns_once(scenario, workers):
    """Scenario 1: SIGKILL the pool process running each job; each job is redelivered and completes
    exactly once, with the interruption counted."""
    s = scenario("worker child killed mid-task")
    workers(concurrency=1)
    jobs = [s.submit(seconds=1.5, steps=3) for _ in range(4)]
    for job in jobs[:3]:
        kill(s.wait_started(job.task_id))
        s.fault()
    done = s.settle(timeout=90)
    for job in jobs[:3]:
        row = done[job.task_id]
        assert row.state == "SUCCESS" and row.interrupted == 1 and row.attempts == 2
        assert len(s.starts(job.task_id)) == 2
    assert done[jobs[3].task_id].interrupted == 0


def test_task_that_kills_its_process_every_time_fails_and_queue_drains(scenario, workers):
    """Scenario 1: a crash loop ends FAILURE after BACKROOM_JOB_MAX_ATTEMPTS; the jobs queued behind
    it all run."""
    s = scenario("task kills its process every time")
    workers(concurrency=1)
    crash = s.submit("tests.crash")
    behind = [s.submit(seconds=0.2) for _ in range(3)]
    s.fault(settings.BACKROOM_JOB_MAX_ATTEMPTS)  # the task kills its own process each time
    done = s.settle(timeout=120)
    row = done[crash.task_id]
    assert row.state == "FAILURE" and "stopped its worker" in row.error
    assert row.attempts == settings.BACKROOM_JOB_MAX_ATTEMPTS
    assert all(done[j.task_id].state == "SUCCESS" for j in behind)
    assert s.broker.queue_length() == 0


def test_whole_worker_killed_new_worker_finishes_everything(scenario, workers):
    """Scenario 2: SIGKILL the worker's process group (main process and children) mid-task; a new
    worker restores the unacknowledged message after the visibility timeout and finishes all jobs."""
    s = scenario("whole worker killed")
    first = workers(concurrency=1)
    jobs = [s.submit(seconds=2, steps=2) for _ in range(4)]
    s.wait_started(jobs[0].task_id)
    first.kill()
    killed_at = time.time()
    s.fault()
    assert s.broker.unacked() == 1  # the running job's message, held by a dead worker
    workers(concurrency=1)
    # Back in the queue within the visibility timeout plus the restore sweep (and the startup).
    done = s.settle(timeout=VISIBILITY_TIMEOUT + RESTORE_INTERVAL + 60)
    recovered = Job.objects.get(task_id=jobs[0].task_id)
    assert recovered.interrupted == 1 and len(s.starts(jobs[0].task_id)) == 2
    assert all(j.state == "SUCCESS" for j in done.values())
    s.note(recovery_seconds=round(recovered.finished_at.timestamp() - killed_at, 1))
    assert s.broker.unacked() == 0 and s.broker.queue_length() == 0


def test_deploy_sigterm_lets_the_running_task_finish_once(scenario, workers):
    """Scenario 3: SIGTERM (a deploy) mid-task: the running task finishes once, the worker exits
    within its grace period, and a new worker runs what was still queued."""
    s = scenario("deploy (SIGTERM) mid-task")
    old = workers(concurrency=1)
    jobs = [s.submit(seconds=3, steps=3) for _ in range(3)]
    s.wait_started(jobs[0].task_id)
    sent_at = time.monotonic()
    old.proc.send_signal(signal.SIGTERM)
    s.fault()
    # Grace period of a Procfile host (Heroku, Render, Kubernetes' default): 30 s, then SIGKILL.
    exit_code = old.proc.wait(timeout=30)
    s.note(worker_exit_seconds=round(time.monotonic() - sent_at, 1))
    assert exit_code == 0
    assert Job.objects.get(task_id=jobs[0].task_id).state == "SUCCESS"
    workers(concurrency=1)
    done = s.settle(timeout=60)
    assert all(done[j.task_id].interrupted == 0 for j in jobs)
    assert not Job.objects.filter(task_id__in=s.task_ids, state__in=["STARTED", "RETRY"]).exists()


def test_hard_time_limit_fails_took_too_long_and_child_is_replaced(scenario, workers):
    """Scenario 8: a task over its hard limit ends FAILURE "took too long"; its pool process is
    replaced and the next jobs run."""
    s = scenario("hard time limit")
    w = workers(concurrency=1)
    children_before = set(w.child_pids())
    slow = s.submit("tests.too_long")
    after = [s.submit(seconds=0.1) for _ in range(2)]
    s.fault()
    done = s.settle(timeout=60)
    assert done[slow.task_id].state == "FAILURE" and done[slow.task_id].error == MESSAGE_TIMEOUT
    assert all(done[j.task_id].state == "SUCCESS" for j in after)
    children_after = set(w.child_pids())
    assert len(children_after) == len(children_before) == 1
    assert children_after != children_before  # the child that hung was killed and replaced


def wait_progress(task_id: str, timeout: float = 60) -> Job:
    """Until the job has reported progress: its worker is in the middle of the real work."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(task_id=task_id)
        if job.state == "PROGRESS" and job.progress_current:
            return job
        assert not job.is_final, f"{task_id} finished before it could be interrupted"
        time.sleep(0.02)
    raise AssertionError(f"{task_id} reported no progress within {timeout}s")


def test_pool_child_killed_mid_compression_leaves_one_set_of_renditions(scenario, workers, owner_client):
    """Scenario 1 on the real media task: SIGKILL the pool process while it compresses a large
    picture; the job is redelivered, completes, and the image has exactly one set of renditions."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image as PILImage

    from media_app.models import Image
    from tests.harness import publishing_to

    s = scenario("worker child killed mid-compression")
    w = workers(queues="media,notifications,default", concurrency=1)
    buf = io.BytesIO()
    PILImage.linear_gradient("L").resize((6000, 4500)).convert("RGB").save(buf, "PNG")
    with publishing_to(s.broker.url):
        body = owner_client.post(
            "/media/upload/",
            {"image": SimpleUploadedFile("big.png", buf.getvalue(), "image/png")},
            HTTP_ACCEPT="application/json",
        ).json()
    s.task_ids.append(body["task_id"])
    wait_progress(body["task_id"])
    (child,) = w.child_pids()
    kill(child)
    s.fault()
    done = s.settle(timeout=120)
    job = done[body["task_id"]]
    assert job.state == "SUCCESS" and job.interrupted == 1 and job.attempts == 2
    image = Image.objects.get(pk=body["image_id"])
    renditions = list(image.renditions.all())
    assert image.state == "READY" and len(renditions) == len({(r.name, r.format) for r in renditions}) == 14
    assert all(r.file.storage.exists(r.file.name) for r in renditions)
    folders = {r.file.name.rsplit("/", 2)[0] for r in renditions}
    assert len(folders) == 1  # one set, written by one execution


def test_pool_child_killed_mid_export_leaves_one_file(scenario, workers, user):
    """Scenario 1 on the real export task: SIGKILL the pool process while it writes a large
    workbook; the export is rebuilt and exactly one file is stored for it."""
    from django.conf import settings
    from django.utils import timezone

    from reports.models import Export
    from reports.services import export_request
    from tests.harness import publishing_to

    s = scenario("worker child killed mid-export")
    now = timezone.now()
    Job.objects.bulk_create(
        [
            Job(
                task_id=f"history-{i}",
                owner=user,
                kind="history",
                task_name="x",
                state="SUCCESS",
                created_at=now,
            )
            for i in range(60_000)
        ],
        batch_size=5000,
    )
    w = workers(queues="reports,notifications,default", concurrency=1)
    folder = settings.MEDIA_ROOT / "exports"
    before = set(folder.iterdir()) if folder.is_dir() else set()
    with publishing_to(s.broker.url):
        export = export_request(user=user, kind="job_history")
    s.task_ids.append(export.job.task_id)
    wait_progress(export.job.task_id)
    (child,) = w.child_pids()
    kill(child)
    s.fault()
    done = s.settle(timeout=180)
    job = done[export.job.task_id]
    assert job.state == "SUCCESS" and job.interrupted == 1
    export = Export.objects.get(pk=export.pk)
    assert export.state == "SUCCESS" and export.rows == 60_000
    stored = sorted(p.name for p in set(folder.iterdir()) - before)
    assert stored == [export.file.name.rsplit("/", 1)[1]]  # the killed attempt left no file behind
