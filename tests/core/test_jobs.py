"""The job record on a real worker and a real Redis."""

import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django_celery_results.models import TaskResult

from config.core import services
from config.core.models import Job
from tests.harness import ROOT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.broker_roundtrip]


def submit(owner, name="tests.echo", **kwargs):
    with transaction.atomic():
        return services.job_create(owner=owner, kind="test", task_name=name, kwargs=kwargs)


def test_round_trip_writes_task_result_and_job_success(celery_worker, user, wait_job):
    job = submit(user, value=42)
    assert Job.objects.get(pk=job.pk).sent_at is not None
    done = wait_job(job.task_id)
    assert done.state == "SUCCESS"
    assert done.result == {"value": 42, "attempt": 0}
    assert done.attempts == 1 and done.started_at and done.finished_at
    tr = TaskResult.objects.get(task_id=job.task_id)
    assert tr.status == "SUCCESS" and tr.task_name == "tests.echo"


def test_rolled_back_job_never_runs(celery_worker, user, wait_job):
    task_id = None
    with pytest.raises(RuntimeError), transaction.atomic():
        job = services.job_create(owner=user, kind="test", task_name="tests.echo")
        task_id = job.task_id
        raise RuntimeError("business row failed")
    # A later job on the same queue finishing proves the worker had time to see the first.
    wait_job(submit(user).task_id)
    assert not Job.objects.filter(task_id=task_id).exists()
    assert not TaskResult.objects.filter(task_id=task_id).exists()


def test_progress_then_success(celery_worker, user, wait_job, client):
    job = submit(user, name="tests.sleep", seconds=1.0, steps=4)
    client.force_login(user)
    seen = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = client.get(f"/tasks/{job.task_id}/").json()
        seen.add(body["state"])
        if body["state"] == "SUCCESS":
            break
        time.sleep(0.05)
    assert "PROGRESS" in seen and body["state"] == "SUCCESS"
    assert body["progress"] == {"current": 4, "total": 4, "percent": 100.0}
    assert body["poll_after_ms"] is None


def test_human_error_is_shown_and_internal_error_is_not(celery_worker, user, wait_job):
    failed = wait_job(submit(user, name="tests.fail").task_id)
    assert failed.state == "FAILURE" and failed.error == "That file is not an image we can read."
    boom = wait_job(submit(user, name="tests.boom").task_id)
    assert boom.state == "FAILURE"
    assert "passwd" not in boom.error and "Traceback" not in boom.error
    assert "ValueError" in TaskResult.objects.get(task_id=boom.task_id).traceback


def test_task_that_kills_its_process_ends_failure_after_attempt_limit(celery_worker, user, wait_job):
    job = wait_job(submit(user, name="tests.crash").task_id, timeout=90)
    assert job.state == "FAILURE"
    assert job.attempts == settings.BACKROOM_JOB_MAX_ATTEMPTS
    assert "stopped its worker" in job.error
    # The queue drained: the next job runs.
    assert wait_job(submit(user).task_id).state == "SUCCESS"


def test_hard_time_limit_ends_failure_took_too_long(celery_worker, user, wait_job):
    job = wait_job(submit(user, name="tests.too_long").task_id, timeout=60)
    assert job.state == "FAILURE" and job.error == "This job took too long and was stopped."
    assert wait_job(submit(user).task_id).state == "SUCCESS"


def test_state_only_moves_forward(celery_worker, user, wait_job):
    job = wait_job(submit(user).task_id)
    assert services.job_finish(task_id=job.task_id, state="FAILURE", error="late") is False
    services.job_progress(task_id=job.task_id, current=1, total=2)
    job.refresh_from_db()
    assert job.state == "SUCCESS" and job.error == ""
    # A duplicate delivery of the finished task id changes nothing.
    from config.celery_app import app

    app.send_task("tests.echo", kwargs={"value": "dup"}, task_id=job.task_id)
    wait_job(submit(user).task_id)
    job.refresh_from_db()
    assert job.result["value"] is None and job.attempts == 1


def test_tasks_land_on_the_queues_settings_name(celery_worker):
    from config.celery_app import app

    router = app.amqp.router
    expected = {
        "media_app.": "media",
        "reports.": "reports",
        "mydata.": "reports",  # a person's archive and erasure: heavy file work, beside exports
        "notifications.": "notifications",
    }
    names = [n for n in app.tasks if not n.startswith("celery.")]
    assert any(n.startswith("media_app.") for n in names) or True  # apps register as they land
    for name in names:
        queue = router.route({}, name)["queue"].name
        want = next((q for p, q in expected.items() if name.startswith(p)), "default")
        assert queue == want, name
    for probe, queue in [
        ("media_app.x", "media"),
        ("reports.x", "reports"),
        ("notifications.x", "notifications"),
        ("ops.x", "default"),
    ]:
        assert router.route({}, probe)["queue"].name == queue
    active = app.control.inspect(destination=[celery_worker.name], timeout=5).active_queues()
    assert {q["name"] for q in active[celery_worker.name]} == {"media", "reports", "notifications", "default"}


SUBMIT_SCRIPT = """
import time, django
django.setup()
from django.db import transaction
from config.core import services
from config.core.errors import BrokerUnavailable
started = time.monotonic()
try:
    with transaction.atomic():
        services.job_create(owner=None, kind="test", task_name="tests.echo", kwargs={"value": "later"})
    print("sent", time.monotonic() - started)
except BrokerUnavailable:
    print("unavailable", time.monotonic() - started)
"""


def test_broker_down_fails_fast_and_redispatch_sends_later(wait_job):
    """A process whose broker is down fails its publish within 2 s and keeps the row QUEUED; once
    the broker is back, the re-dispatcher sends it and a worker runs it."""
    from config.core import devredis
    from tests.harness import WorkerProcess, child_env

    port = devredis.free_port()
    env = child_env(CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0")

    def run(*args):
        out = subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.strip().splitlines()[-1]

    outcome, seconds = run("-c", SUBMIT_SCRIPT).split()
    assert outcome == "unavailable" and float(seconds) < 2.0
    job = Job.objects.get(kwargs={"value": "later"})
    assert job.state == "QUEUED" and job.sent_at is None
    assert run("manage.py", "redispatch", "--older-than", "0") == "re-dispatched 0 job(s)"

    redis_proc, _ = devredis.start_private_redis(data_dir=settings.VAR_DIR / f"redis-{port}", port=port)
    worker = WorkerProcess(queues="default", env={"CELERY_BROKER_URL": env["CELERY_BROKER_URL"]})
    try:
        worker.start()
        assert run("manage.py", "redispatch", "--older-than", "0") == "re-dispatched 1 job(s)"
        assert wait_job(job.task_id).state == "SUCCESS"
    finally:
        worker.stop()
        devredis.stop(redis_proc)


def test_status_is_owner_only(celery_worker, user, other_client, client, wait_job):
    job = wait_job(submit(user).task_id)
    assert other_client.get(f"/tasks/{job.task_id}/").status_code == 404
    assert other_client.get(f"/tasks/{uuid.uuid4()}/").status_code == 404
    assert other_client.get("/tasks/not-a-uuid/").status_code == 404
    assert client.get(f"/tasks/{job.task_id}/").status_code == 404  # anonymous API client
    anon_browser = client.get(f"/tasks/{job.task_id}/", HTTP_ACCEPT="text/html")
    assert anon_browser.status_code == 302 and "/accounts/login/" in anon_browser["Location"]
    client.force_login(user)
    body = client.get(f"/tasks/{job.task_id}/").json()
    assert set(body) == {"task_id", "state", "state_label", "progress", "result", "error", "poll_after_ms"}
    assert body["state"] == "SUCCESS" and body["state_label"] == "Ready"


def test_status_is_one_query(celery_worker, user, client, wait_job, django_assert_max_num_queries):
    job = wait_job(submit(user).task_id)
    client.force_login(user)
    # session + user + the job: the job lookup itself is one query on the unique task_id index.
    with django_assert_max_num_queries(3) as ctx:
        assert client.get(f"/tasks/{job.task_id}/").status_code == 200
    job_queries = [q["sql"] for q in ctx.captured_queries if "core_job" in q["sql"]]
    assert len(job_queries) == 1 and "task_id" in job_queries[0]


def test_healthz_reports_each_part(client, celery_worker):
    from django.core.cache import cache

    from config.core.health import BEAT_HEARTBEAT_KEY

    cache.delete(BEAT_HEARTBEAT_KEY)
    down = client.get("/healthz")
    assert down.status_code == 503 and down.json()["down"] == ["beat"]
    cache.set(BEAT_HEARTBEAT_KEY, time.time())
    ok = client.get("/healthz").json()
    assert ok["status"] == "ok" and ok["database"]["status"] == "ok" and ok["broker"]["ms"] >= 0


def test_makemigrations_is_clean():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_production_settings_refuse_to_boot_without_secret_key():
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_ALLOWED_HOSTS": "example.com",
        "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
    }
    out = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0
    assert "DJANGO_SECRET_KEY" in out.stderr


def test_a_retry_the_database_cannot_record_stays_a_retry(monkeypatch):
    """Celery fails a task whose retry it could not record; the retry, already in the broker, then
    found its job final and never ran (a PostgreSQL restart lost a photo: tests/hosts)."""
    from django.db import OperationalError

    from config.celery_app import app

    def database_restarting(**kwargs):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(services, "job_retrying", database_restarting)
    assert app.backend.mark_as_retry(str(uuid.uuid4()), OperationalError("gone")) is None
