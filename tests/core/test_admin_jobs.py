"""The admin people meet (issue 22, point 8): branded, a Jobs list that reads like the product,
housekeeping out of the way, Retry only where another run can help, schedules in words."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from config.core.errors import MESSAGE_TIMEOUT
from config.core.models import Job
from config.ops.admin import next_runs, schedule_in_words

pytestmark = pytest.mark.django_db


def job(kind: str, state: str = Job.State.SUCCESS, error: str = "", owner=None) -> Job:
    now = timezone.now()
    return Job.objects.create(
        task_id=str(uuid.uuid4()),
        kind=kind,
        task_name=kind,
        owner=owner,
        state=state,
        error=error,
        started_at=now - timedelta(milliseconds=250),
        finished_at=now,
    )


def test_the_admin_is_branded(admin_client):
    body = admin_client.get("/admin/").content.decode()
    assert "Backroom administration" in body


def test_the_jobs_list_reads_like_the_product_and_hides_housekeeping(admin_client, user):
    mine = job("media.compress", Job.State.FAILURE, "This file is not an image we can read. " * 4, user)
    chore = job("ops.cleanup")
    body = admin_client.get("/admin/core/job/").content.decode()
    assert f">{mine.task_id[:8]}</a></th>" in body  # the short id links the job
    assert "Picture compression" in body and "Failed" in body and "250 ms" in body
    assert "…" in body  # the error, cut short
    assert chore.task_id[:8] not in body, "housekeeping shows by default"
    assert "Add job" not in body and admin_client.get("/admin/core/job/add/").status_code == 403
    everything = admin_client.get("/admin/core/job/?work=all").content.decode()
    assert chore.task_id[:8] in everything and "Cleanup" in everything
    only = admin_client.get("/admin/core/job/?work=housekeeping").content.decode()
    assert chore.task_id[:8] in only and mine.task_id[:8] not in only


def test_retry_is_refused_for_a_broken_file_and_explained(admin_client, user):
    broken = job("media.compress", Job.State.FAILURE, "This file is not an image we can read.", user)
    page = admin_client.get(f"/admin/core/job/{broken.pk}/change/").content.decode()
    assert "Can it be retried?" in page and "a broken file stays broken" in page
    response = admin_client.post(
        "/admin/core/job/", {"action": "retry_failed", "_selected_action": [broken.pk]}, follow=True
    )
    text = response.content.decode()
    assert "1 not retried" in text and "a broken file stays broken" in text
    broken.refresh_from_db()
    assert broken.state == Job.State.FAILURE
    slow = job("media.compress", Job.State.FAILURE, MESSAGE_TIMEOUT, user)
    assert "Yes: " in admin_client.get(f"/admin/core/job/{slow.pk}/change/").content.decode()


def test_a_schedule_reads_in_words_with_its_next_five_runs(admin_client):
    cron = CrontabSchedule.objects.create(minute="30", hour="3", timezone="Europe/Berlin")
    task = PeriodicTask.objects.create(name="nightly-probe", task="ops.cleanup", crontab=cron)
    assert schedule_in_words(task) == "every day at 03:30, Europe/Berlin"
    now = datetime(2026, 3, 1, 12, 0, tzinfo=ZoneInfo("UTC"))
    runs = next_runs(task, now=now)
    assert len(runs) == 5
    assert [(r.day, r.hour, r.minute) for r in runs] == [(d, 3, 30) for d in range(2, 7)]
    assert all(r.utcoffset() == timedelta(hours=1) for r in runs)  # Berlin in March, before DST
    page = admin_client.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/").content.decode()
    assert "every day at 03:30, Europe/Berlin" in page and page.count("<li>") >= 5
    every = IntervalSchedule.objects.create(every=5, period="minutes")
    quick = PeriodicTask.objects.create(name="quick-probe", task="ops.redispatch", interval=every)
    assert schedule_in_words(quick) == "every 5 minutes"
    assert len(next_runs(quick)) == 5
