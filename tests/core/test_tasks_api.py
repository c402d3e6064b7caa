"""Django's Tasks API (@task, enqueue, get_result) on our job layer, a real worker and Redis."""

import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django_celery_results.models import TaskResult as CeleryResult

from config.core import services
from config.core.models import Job
from config.core.tasks_backend import (
    RUN_TASK,
    BackroomTaskBackend,
    InvalidTask,
    TaskResultDoesNotExist,
    TaskResultStatus,
    celery_priority,
    default_task_backend,
)
from tests import djtasks
from tests.harness import ROOT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.broker_roundtrip]


def test_enqueued_in_a_transaction_runs_on_a_worker_and_get_result_reads_the_job(celery_worker, wait_job):
    with transaction.atomic():
        result = djtasks.add.enqueue(2, 3)
        job = Job.objects.get(task_id=result.id)  # the row exists before the message is sent
        assert job.state == "QUEUED" and job.sent_at is None
    assert result.status == TaskResultStatus.READY and not result.is_finished
    assert job.task_name == RUN_TASK and job.kind == "tests.djtasks.add"
    assert wait_job(result.id).state == "SUCCESS"

    done = djtasks.add.get_result(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value["sum"] == 5
    assert done.args == [2, 3] and done.attempts == 1 and done.worker_ids[0]
    assert done.started_at and done.finished_at and done.errors == []
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == done.return_value
    assert default_task_backend.get_result(result.id).task.func is djtasks.add.func


def test_rolled_back_enqueue_never_runs(celery_worker, wait_job):
    task_id = None
    with pytest.raises(RuntimeError), transaction.atomic():
        task_id = djtasks.add.enqueue(1, 1).id
        raise RuntimeError("the business row failed")
    # A later task on the same queue finishing proves the worker had time to see the first.
    wait_job(djtasks.add.enqueue(0, 0).id)
    assert not Job.objects.filter(task_id=task_id).exists()
    assert not CeleryResult.objects.filter(task_id=task_id).exists()
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result(task_id)


def test_context_retry_queue_and_priority(celery_worker, wait_job, tmp_path):
    marker = tmp_path / "flaky"
    result = djtasks.flaky.enqueue(str(marker))
    job = Job.objects.get(task_id=result.id)
    from config.core.tasks_backend import _redis_broker

    # Priorities are sent on Redis only (RabbitMQ's need a queue declared with x-max-priority).
    expected = {"queue": "reports", "priority": 6} if _redis_broker() else {"queue": "reports"}
    assert job.send_options == expected
    assert wait_job(result.id).state == "SUCCESS"
    done = djtasks.flaky.get_result(result.id)
    # The TransientError was retried; the second execution saw itself as attempt 2.
    assert done.return_value == {"attempt": 2, "id": result.id} and done.attempts == 2
    assert done.task.queue_name == "reports" and done.task.priority == -50


def test_async_function_runs(celery_worker, wait_job):
    result = djtasks.async_echo.enqueue("hi")
    assert wait_job(result.id).state == "SUCCESS"
    assert djtasks.async_echo.get_result(result.id).return_value == {"value": "hi"}


def test_failure_shows_as_failed_with_its_exception(celery_worker, wait_job):
    result = djtasks.fail.enqueue()
    job = wait_job(result.id)
    assert job.state == "FAILURE" and job.error == "That file is not an image we can read."
    failed = djtasks.fail.get_result(result.id)
    assert failed.status == TaskResultStatus.FAILED
    assert failed.errors[0].exception_class_path == "config.core.errors.HumanError"
    assert "HumanError" in failed.errors[0].traceback
    with pytest.raises(ValueError):
        failed.return_value  # noqa: B018


def test_run_after_runs_after_it(celery_worker, wait_job):
    run_after = timezone.now() + timedelta(seconds=3)
    result = djtasks.add.using(run_after=run_after).enqueue(4, 4)
    assert Job.objects.get(task_id=result.id).send_options["eta"] == run_after.isoformat()
    job = wait_job(result.id, timeout=60)
    assert job.state == "SUCCESS" and job.started_at >= run_after
    assert datetime.fromisoformat(djtasks.add.get_result(result.id).return_value["at"]) >= run_after


def test_cancelled_before_its_run_after_never_runs(celery_worker, wait_job):
    result = djtasks.add.using(run_after=timezone.now() + timedelta(seconds=2)).enqueue(5, 5)
    services.job_cancel(job=Job.objects.get(task_id=result.id))
    wait_job(djtasks.add.using(run_after=timezone.now() + timedelta(seconds=3)).enqueue(0, 0).id)
    job = Job.objects.get(task_id=result.id)
    assert job.state == "CANCELLED" and job.attempts == 0
    cancelled = djtasks.add.get_result(result.id)
    assert cancelled.status == TaskResultStatus.FAILED
    assert cancelled.errors[0].exception_class_path == "config.core.errors.JobCancelled"


def test_invalid_queue_priority_and_run_after_are_refused():
    with pytest.raises(InvalidTask, match="Queue 'nowhere' is not valid"):
        djtasks.add.using(queue_name="nowhere")
    with pytest.raises(InvalidTask, match="priority"):
        djtasks.add.using(priority=101)
    too_far = timezone.now() + timedelta(seconds=settings.BACKROOM_MAX_COUNTDOWN + 60)
    with pytest.raises(InvalidTask, match="BACKROOM_MAX_COUNTDOWN"):
        djtasks.add.using(run_after=too_far)
    with pytest.raises(InvalidTask, match="aware"):
        djtasks.add.using(run_after=datetime.now() + timedelta(seconds=5))
    # A backend may only name queues some worker consumes.
    with pytest.raises(ImproperlyConfigured, match="no worker consumes"):
        BackroomTaskBackend("x", {"QUEUES": ["default", "typo"]})
    assert BackroomTaskBackend("x", {}).queues == {"default", "media", "reports", "notifications"}
    assert not Job.objects.exists()


def test_priority_mapping():
    # Redis serves 0 first and every other task sends 0: only negative priorities can go behind.
    assert [celery_priority(p) for p in (100, 1, 0, -1, -33, -34, -66, -67, -100)] == [
        None, None, None, 3, 3, 6, 6, 9, 9
    ]  # fmt: skip


SUBMIT_SCRIPT = """
import django
django.setup()
from django.test import Client, override_settings
with override_settings(ROOT_URLCONF="tests.djtasks", ALLOWED_HOSTS=["*"]):
    client = Client(raise_request_exception=False)
    down = client.post("/enqueue/?a=1000", HTTP_ACCEPT="application/json")
    side = client.post("/enqueue/?a=2000&alias=side", HTTP_ACCEPT="application/json")
print(down.status_code, down.json()["error"].split(".")[0], side.status_code)
"""


def test_broker_refused_answers_503_keeps_the_job_queued_and_redispatch_runs_it(wait_job):
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

    # The default alias answers 503 (its work is saved); the "side" alias lets its request succeed.
    assert run("-c", SUBMIT_SCRIPT) == "503 Saved 202"
    jobs = {job.kwargs["args"][0]: job for job in Job.objects.filter(task_name=RUN_TASK)}
    assert set(jobs) == {1000, 2000}
    assert all(job.state == "QUEUED" and job.sent_at is None for job in jobs.values())
    assert default_task_backend.get_result(jobs[1000].task_id).status == TaskResultStatus.READY

    redis_proc, _ = devredis.start_private_redis(data_dir=settings.VAR_DIR / f"redis-{port}", port=port)
    worker = WorkerProcess(queues="default", env={"CELERY_BROKER_URL": env["CELERY_BROKER_URL"]})
    try:
        worker.start()
        assert run("manage.py", "redispatch", "--older-than", "0") == "re-dispatched 2 job(s)"
        for job in jobs.values():
            assert wait_job(job.task_id).state == "SUCCESS"
        assert djtasks.add.get_result(jobs[1000].task_id).return_value["sum"] == 1001
    finally:
        worker.stop()
        devredis.stop(redis_proc)


def test_the_welcome_email_is_a_django_task(celery_worker, smtp, client, wait_job):
    from notifications import tasks
    from notifications.models import Notification

    response = client.post(
        "/accounts/signup/",
        {
            "username": "tasked",
            "email": "tasked@example.com",
            "password1": "Sturdy-pass-91",
            "password2": "Sturdy-pass-91",
        },
    )
    assert response.status_code == 302
    notification = Notification.objects.get(recipient__username="tasked", kind="welcome")
    job = notification.job
    assert job.task_name == RUN_TASK and job.kwargs["path"] == "notifications.tasks.send_welcome_email"
    assert job.kind == "notifications.email" and job.owner == notification.recipient
    assert job.send_options == {"queue": "notifications"}
    assert wait_job(job.task_id).state == "SUCCESS"
    sent = tasks.send_welcome_email.get_result(job.task_id)
    assert sent.status == TaskResultStatus.SUCCESSFUL and sent.return_value["sent"] is True
    [received] = smtp.wait_for(1)
    assert received["to"] == ["tasked@example.com"]


def test_the_api_comes_from_django_itself_where_it_has_one():
    import django

    from config.core import tasks_backend

    expected = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"
    assert tasks_backend.Task.__module__ == f"{expected}.base"
    assert tasks_backend.BaseTaskBackend.__module__ == f"{expected}.backends.base"
