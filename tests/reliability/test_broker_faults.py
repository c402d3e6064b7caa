"""The broker fails: Redis stopped and restarted with jobs queued and running, its client connections
cut. Every job completes once; uploads while it is down answer 503 fast and run once it is back."""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from config.core import services
from config.core.errors import BrokerUnavailable
from config.core.models import Job
from tests.harness import publishing_to
from tests.reliability.faults import VISIBILITY_TIMEOUT

pytestmark = [pytest.mark.timing, pytest.mark.reliability, pytest.mark.django_db(transaction=True)]


def redispatch(broker) -> None:
    """What beat does every minute: the re-dispatcher runs on a worker and re-sends unsent jobs."""
    from config.celery_app import app

    with publishing_to(broker.url):
        app.send_task("ops.redispatch", kwargs={"older_than_seconds": 0})


def test_redis_stopped_and_restarted_loses_nothing(scenario, workers, owner_client, testdata):
    """Scenario 4: stop Redis (append-only) while jobs are queued and running; submissions while it
    is down fail within 2 s (the upload answers 503) and stay QUEUED; once Redis is back every job
    completes exactly once, those refused included (re-dispatched)."""
    s = scenario("Redis stopped and restarted")
    workers(concurrency=2)
    jobs = [s.submit(seconds=2, steps=4) for _ in range(8)]
    s.wait_started(jobs[0].task_id)
    s.broker.stop()
    s.fault()

    refused, refusal_seconds = [], []
    for _ in range(3):
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable), publishing_to(s.broker.url), transaction.atomic():
            job = services.job_create(
                owner=s.owner, kind="reliability", task_name="tests.ledger", kwargs={"path": str(s.ledger)}
            )
        refusal_seconds.append(time.monotonic() - started)
        refused.append(job.task_id)
    photo = (testdata / "images" / "pillow" / "hopper.jpg").read_bytes()
    from django.core.files.uploadedfile import SimpleUploadedFile

    started = time.monotonic()
    with publishing_to(s.broker.url):
        upload = owner_client.post(
            "/media/upload/",
            {"image": SimpleUploadedFile("hopper.jpg", photo, "image/jpeg")},
            HTTP_ACCEPT="application/json",
        )
    refusal_seconds.append(time.monotonic() - started)
    assert upload.status_code == 503, upload.content
    assert "unavailable" in upload.json()["error"]
    assert max(refusal_seconds) < 2.0
    unsent = Job.objects.filter(
        state="QUEUED", sent_at__isnull=True, task_name__in=["tests.ledger", "media_app.compress_image"]
    )
    assert unsent.count() == 4
    s.task_ids += [j.task_id for j in unsent]

    time.sleep(3)  # the running jobs finish while Redis is down; their acknowledgements cannot
    s.broker.start()
    redispatch(s.broker)
    done = s.settle(timeout=VISIBILITY_TIMEOUT + 90)
    s.note(max_refusal_seconds=round(max(refusal_seconds), 2))
    assert all(j.state == "SUCCESS" for j in done.values())
    assert all(done[t].interrupted == 0 for t in refused)


def test_connections_cut_three_times_workers_resume(scenario, workers):
    """Scenario 5: CLIENT KILL every connection three times while jobs run; the workers reconnect and
    each probe submitted after a cut completes within 30 s; nothing lost or done twice."""
    s = scenario("connections cut (CLIENT KILL) x3")
    workers(concurrency=2)
    resume = []
    for _ in range(3):
        batch = [s.submit(seconds=1.5, steps=3) for _ in range(3)]
        s.wait_started(batch[0].task_id)
        killed = s.broker.client().client_kill_filter(_type="normal", skipme=True)
        killed += s.broker.client().client_kill_filter(_type="pubsub", skipme=True)
        assert killed >= 1
        s.fault()
        cut_at = time.monotonic()
        probe = s.submit(seconds=0)
        deadline = cut_at + 30
        while time.monotonic() < deadline:
            if Job.objects.filter(task_id=probe.task_id, state="SUCCESS").exists():
                break
            time.sleep(0.1)
        resume.append(time.monotonic() - cut_at)
        assert resume[-1] < 30, "workers did not resume within 30 s of the cut"
    s.settle(timeout=VISIBILITY_TIMEOUT + 60)
    s.note(max_resume_seconds=round(max(resume), 1))


def test_a_frozen_broker_stalls_workers_only_while_it_is_frozen(scenario, workers):
    """Redis frozen (SIGSTOP) for longer than every socket timeout and health check while jobs run:
    the workers neither die nor hang on a dead connection; a probe submitted once Redis answers
    again completes within 30 s, and nothing is lost or done twice."""
    import os
    import signal

    s = scenario("Redis frozen (SIGSTOP) 25 s")
    workers(concurrency=2)
    jobs = [s.submit(seconds=1, steps=2) for _ in range(4)]
    s.wait_started(jobs[0].task_id)
    os.kill(s.broker.proc.pid, signal.SIGSTOP)
    s.fault()
    try:
        time.sleep(25)  # > SOCKET_TIMEOUT, > brpop_timeout + 2 x health_check_interval (21 s)
    finally:
        os.kill(s.broker.proc.pid, signal.SIGCONT)
    thawed_at = time.monotonic()
    probe = s.submit(seconds=0)
    deadline = thawed_at + 30
    while time.monotonic() < deadline:
        if Job.objects.filter(task_id=probe.task_id, state="SUCCESS").exists():
            break
        time.sleep(0.1)
    resumed = time.monotonic() - thawed_at
    s.note(resume_after_thaw_seconds=round(resumed, 1))
    assert resumed < 30, "workers did not resume within 30 s of the thaw"
    s.settle(timeout=VISIBILITY_TIMEOUT + 60)
