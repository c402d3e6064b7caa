"""The audit trail: every staff action that changes something is in the admin log with who, when,
what and the outcome, filterable in the admin and never editable there."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config.accounts.models import Allowance
from config.core import services as job_services
from config.core.models import Job

pytestmark = pytest.mark.django_db


def entries_for(obj) -> list[str]:
    return list(
        LogEntry.objects.filter(object_id=str(obj.pk), content_type__model=obj._meta.model_name)
        .order_by("pk")
        .values_list("change_message", flat=True)
    )


def a_job(user, state=Job.State.QUEUED) -> Job:
    with transaction.atomic():
        job = job_services.job_create(owner=user, kind="test", task_name="tests.echo", kwargs={"value": 1})
    Job.objects.filter(pk=job.pk).update(state=state)
    return Job.objects.get(pk=job.pk)


def test_retry_and_cancel_actions_are_recorded_with_their_outcome(admin_client, admin_user, user):
    failed, queued = a_job(user, Job.State.FAILURE), a_job(user)
    admin_client.post("/admin/core/job/", {"action": "retry_failed", "_selected_action": [failed.pk]})
    admin_client.post("/admin/core/job/", {"action": "cancel_active", "_selected_action": [queued.pk]})

    assert entries_for(failed) == ["Retry the selected failed jobs: done: 1 failed job(s) re-queued."]
    assert entries_for(queued) == [
        "Cancel the selected queued or running jobs: done: 1 job(s) cancelled, 0 finished first."
    ]
    assert Job.objects.get(pk=queued.pk).state == Job.State.CANCELLED
    entry = LogEntry.objects.get(object_id=str(failed.pk), content_type__model="job")
    assert entry.user == admin_user and entry.action_time is not None


def test_run_now_and_schedule_edits_are_recorded(admin_client):
    every = IntervalSchedule.objects.create(every=5, period="minutes")
    task = PeriodicTask.objects.create(name="ghost", task="no.such.task", interval=every)
    admin_client.post(
        "/admin/django_celery_beat/periodictask/", {"action": "run_tasks", "_selected_action": [task.pk]}
    )
    assert entries_for(task) == ['Run selected tasks now: failed: task "no.such.task" not found']

    page = admin_client.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/")
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, (list, dict))}
    data.update(name="ghost renamed", task="no.such.task", interval=every.pk, enabled="on", args="[]")
    data.update(kwargs="{}", headers="{}", priority="", expires="", expire_seconds="", queue="")
    admin_client.post(f"/admin/django_celery_beat/periodictask/{task.pk}/change/", data)
    assert PeriodicTask.objects.get(pk=task.pk).name == "ghost renamed"
    assert len(entries_for(task)) == 2 and "Name" in entries_for(task)[1]


def test_quota_overrides_and_user_changes_are_recorded(admin_client, user):
    allowance = Allowance.objects.create(user=user, bytes_used=123)
    response = admin_client.post(
        f"/admin/accounts/allowance/{allowance.pk}/change/",
        {"user": user.pk, "quota_bytes": "5000", "uploads_per_minute": ""},
    )
    assert response.status_code == 302
    allowance.refresh_from_db()
    assert (allowance.quota_bytes, allowance.bytes_used) == (5000, 123)  # the counter untouched
    assert "Quota bytes" in entries_for(allowance)[0]

    admin_client.post(f"/admin/auth/user/{user.pk}/delete/", {"post": "yes"})
    assert LogEntry.objects.filter(object_repr="alice", action_flag=3).exists()


def test_the_trail_is_filterable_and_never_editable(admin_client, admin_user, user):
    failed = a_job(user, Job.State.FAILURE)
    admin_client.post("/admin/core/job/", {"action": "retry_failed", "_selected_action": [failed.pk]})
    entry = LogEntry.objects.get(object_id=str(failed.pk))

    listing = admin_client.get(f"/admin/admin/logentry/?user__id__exact={admin_user.pk}&action_flag=2")
    assert listing.status_code == 200 and "re-queued" in listing.content.decode()
    assert admin_client.get("/admin/admin/logentry/?q=re-queued").status_code == 200
    assert admin_client.get("/admin/admin/logentry/add/").status_code == 403
    assert admin_client.post(f"/admin/admin/logentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    admin_client.post(f"/admin/admin/logentry/{entry.pk}/change/", {"change_message": "nothing happened"})
    entry.refresh_from_db()
    assert "re-queued" in entry.change_message
