"""The admin side of the periodic jobs: seeded schedules, run now, retrying failed jobs."""

import importlib
import json

import pytest
from django.apps import apps
from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from config.core import redis as shared_redis
from config.core import services as job_services
from config.core.models import Job

pytestmark = pytest.mark.django_db(transaction=True)

seed = importlib.import_module("config.ops.migrations.0002_seed_schedules").seed


def test_seed_creates_the_defaults_and_never_overwrites_an_admins_edits():
    PeriodicTask.objects.all().delete()
    seed(apps, None)
    tasks = {t.name: t for t in PeriodicTask.objects.all()}
    assert set(tasks) == {"cleanup", "statistics", "redispatch"}
    cleanup = tasks["cleanup"]
    assert cleanup.task == "ops.cleanup" and cleanup.crontab is not None
    assert (cleanup.crontab.minute, cleanup.crontab.hour) == ("30", "3")
    assert str(cleanup.crontab.timezone) == settings.TIME_ZONE
    assert json.loads(cleanup.kwargs)["orphan_grace_hours"] == 24
    assert (tasks["statistics"].interval.every, tasks["statistics"].interval.period) == (1, "hours")
    assert (tasks["redispatch"].interval.every, tasks["redispatch"].interval.period) == (60, "seconds")
    # Each run expires when the next one is due.
    assert [tasks[n].expire_seconds for n in ("cleanup", "statistics", "redispatch")] == [86400, 3600, 60]
    assert all(t.queue is None for t in tasks.values())  # left to routing

    # An admin tunes the cleanup and moves it to 05:00; statistics is disabled.
    cleanup.kwargs = json.dumps({"orphan_grace_hours": 72})
    cleanup.crontab = CrontabSchedule.objects.create(minute="0", hour="5", timezone=settings.TIME_ZONE)
    cleanup.save()
    PeriodicTask.objects.filter(name="statistics").update(enabled=False)

    seed(apps, None)
    cleanup.refresh_from_db()
    assert json.loads(cleanup.kwargs) == {"orphan_grace_hours": 72}
    assert (cleanup.crontab.minute, cleanup.crontab.hour) == ("0", "5")
    assert not PeriodicTask.objects.get(name="statistics").enabled
    assert PeriodicTask.objects.count() == 3
    assert IntervalSchedule.objects.filter(every=60, period="seconds").count() == 1


def test_run_now_keeps_the_tasks_queue_and_options(admin_client, private_queue):
    periodic = PeriodicTask.objects.create(
        name="probe-run-now",
        task="tests.echo",
        interval=IntervalSchedule.objects.create(every=1, period="hours"),
        kwargs=json.dumps({"value": "now"}),
        queue=private_queue.name,
        priority=7,
        headers=json.dumps({"team": "ops"}),
        expire_seconds=300,
    )
    response = admin_client.post(
        "/admin/django_celery_beat/periodictask/",
        {"action": "run_tasks", "_selected_action": [periodic.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 task(s) sent." in response.content.decode()
    [message] = private_queue.messages()  # it went to the row's own queue
    headers = message["headers"]
    assert headers["task"] == "tests.echo"
    assert message["decoded_body"][1] == {"value": "now"}
    assert message["properties"]["priority"] == 7
    assert headers["team"] == "ops"
    assert headers["periodic_task_name"] == "probe-run-now"
    # Its expiry on Redis's clock (as beat's), not Celery's, which the worker's clock would judge.
    assert headers["expires"] is None
    assert 290 < float(headers["backroom_expires"]) - shared_redis.now() <= 300
    # Not a beat send: no slot, so the once-per-period guard never swallows it.
    assert "backroom_slot" not in headers


def test_retry_action_reruns_a_failed_job(celery_worker, admin_client, user, wait_job):
    # The job fails (its arguments are wrong); an operator fixes the cause, then retries it.
    with transaction.atomic():
        job = job_services.job_create(
            owner=user, kind="test", task_name="tests.echo", kwargs={"value": 5, "unknown": 1}
        )
    failed = wait_job(job.task_id)
    assert failed.state == "FAILURE"
    Job.objects.filter(pk=job.pk).update(kwargs={"value": 5})

    response = admin_client.post(
        "/admin/core/job/", {"action": "retry_failed", "_selected_action": [job.pk]}, follow=True
    )
    assert "1 failed job(s) re-queued." in response.content.decode()
    job.refresh_from_db()
    assert job.task_id != failed.task_id
    done = wait_job(job.task_id)
    assert done.state == "SUCCESS" and done.result == {"value": 5, "attempt": 0}
    assert done.error == ""


def test_admin_index_links_the_dashboard_and_lists_have_filters(admin_client):
    body = admin_client.get("/admin/").content.decode()
    assert 'href="/ops/dashboard/"' in body
    assert (
        admin_client.get("/admin/django_celery_results/taskresult/?status__exact=FAILURE").status_code == 200
    )
    assert admin_client.get("/admin/core/job/?state__exact=FAILURE").status_code == 200
    assert admin_client.get("/admin/ops/dailystatistics/").status_code == 200
    assert admin_client.get("/admin/django_celery_beat/periodictask/").status_code == 200
