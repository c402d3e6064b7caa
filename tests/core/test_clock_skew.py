"""Hosts whose clocks disagree: every time written on one host and compared on another is on one
clock, the database's (rows) or Redis's (beat's expiry and heartbeat). tests/hosts' clock_skew
scenario runs the same on separate hosts with libfaketime; here a worker under libfaketime, and
this process's clock shifted where the comparison happens in it."""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path

import pytest
from celery.beat import ScheduleEntry
from celery.schedules import schedule
from django.core.cache import cache
from django.utils import timezone

from config.core import health
from config.core import redis as shared_redis
from config.core.clock import db_now
from config.core.models import Job
from config.ops import services as ops_services
from config.ops.beat import LeaderDatabaseScheduler
from reports import selectors as report_selectors
from reports import services as report_services
from reports.models import Export
from reports.views import export_payload
from tests.harness import WorkerProcess, wait_for_job

pytestmark = pytest.mark.django_db(transaction=True)
FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
SKEW = datetime.timedelta(minutes=5)


def _shift_clock(monkeypatch, by: datetime.timedelta) -> None:
    """This process's Django clock moves by ``by``; the database's (SQLite's, in C) does not."""
    real = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real() + by)


@pytest.mark.skipif(not FAKETIME.exists(), reason="libfaketime is not installed (Debian package faketime)")
def test_a_beat_message_runs_on_a_worker_five_minutes_ahead():
    """Celery's `expires` would be absolute on beat's clock and judged on the worker's: a worker
    5 minutes ahead dropped every run of a 60 s schedule. Beat's expiry is on Redis's clock now."""
    queue = f"skew-{uuid.uuid4().hex[:8]}"
    entry = ScheduleEntry(
        name="probe-skew",
        task="ops.redispatch",
        schedule=schedule(60),
        last_run_at=timezone.now(),
        options={},
    )
    options = LeaderDatabaseScheduler._message_options(None, entry)
    worker = WorkerProcess(
        queues=queue, concurrency=1, env={"LD_PRELOAD": str(FAKETIME), "FAKETIME": "+5m"}
    ).start()
    try:
        from config.celery_app import app

        sent = app.send_task("ops.redispatch", queue=queue, **options)
        job = wait_for_job(sent.id, timeout=30)
    finally:
        worker.stop()
    assert job.state == "SUCCESS" and "skipped" not in job.result, job.result


def test_a_message_past_its_redis_deadline_is_dropped(celery_worker):
    from config.celery_app import app

    sent = app.send_task("ops.redispatch", headers={"backroom_expires": shared_redis.now() - 1})
    ran = app.send_task("ops.redispatch", headers={"backroom_expires": shared_redis.now() + 60})
    assert wait_for_job(ran.id, timeout=30).state == "SUCCESS"
    assert not Job.objects.filter(task_id=sent.id).exists()  # never started


def test_a_running_job_is_not_failed_as_stuck_by_a_cleanup_host_thirty_minutes_ahead(user, monkeypatch):
    job = Job.objects.create(
        task_id=str(uuid.uuid4()), owner=user, kind="media.compress", task_name="media_app.compress_image"
    )
    from config.core import services as job_services

    decision, _ = job_services.job_start(task_id=job.task_id, task_name=job.task_name)
    assert decision == job_services.StartDecision.RUN
    _shift_clock(monkeypatch, datetime.timedelta(minutes=30))  # past the limit and its margin
    assert ops_services.jobs_fail_stuck() == 0
    job.refresh_from_db()
    assert job.state == "STARTED"
    assert abs((job.started_at - db_now()).total_seconds()) < 5


def test_an_export_link_lasts_its_full_age_whatever_the_reports_host_clock(user, monkeypatch, settings):
    settings.REPORTS_LINK_MAX_AGE = 3600
    export = Export.objects.create(owner=user, kind=Export.Kind.JOB_HISTORY, state=Export.State.STARTED)
    _shift_clock(monkeypatch, -SKEW)  # the reports host, 5 minutes behind
    report_services._finish(export, saved_name="reports/exports/x.xlsx", rows=1, size=10)
    export.refresh_from_db()
    lasts = (export.expires_at - db_now()).total_seconds()
    assert 3590 < lasts <= 3600, lasts
    # A web host whose clock is a minute past the expiry still asks the database: not expired.
    monkeypatch.undo()
    _shift_clock(monkeypatch, datetime.timedelta(seconds=3660))
    fresh = report_selectors.export_for_user(user=user, export_id=export.pk)
    assert export_payload(fresh)["state"] == "SUCCESS"


def test_healthz_judges_beat_by_redis_time_not_the_web_hosts(monkeypatch):
    cache.set(health.BEAT_HEARTBEAT_KEY, shared_redis.now())  # what beat writes on each tick
    real = health.time

    class Ahead:  # the web host's clock, 5 minutes ahead of beat's
        perf_counter = staticmethod(real.perf_counter)

        @staticmethod
        def time() -> float:
            return real.time() + SKEW.total_seconds()

    monkeypatch.setattr(health, "time", Ahead)
    assert health.health()["beat"]["status"] == "ok"
