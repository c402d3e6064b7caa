"""Scheduled reports (issue 16.3): set up on the reports page, stored as django-celery-beat
schedules in the person's time zone, run by the real beat and workers, emailed with the link."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.accounts.models import Profile
from notifications.models import Notification
from reports.models import Export, ReportSchedule
from tests.helpers import HTML, JSON, csv_rows, make_image

pytestmark = pytest.mark.django_db(transaction=True)
LINK = re.compile(r"/reports/exports/\d+/download/[^\s\"<>]+/")


def page_form(kind="media_inventory", columns=("title", "state", "uploaded_at"), **fields) -> dict:
    """The schedule form as the reports page sends it: the kind's fieldset, columns numbered."""
    form = {
        "kind": kind,
        "file_format": "csv",
        "frequency": "weekly",
        "at": "08:00",
        "day_of_week": "1",
        "range_days": "7",
        f"columns:{kind}": list(columns),
        **fields,
    }
    for i, key in enumerate(columns, 1):
        form[f"position:{kind}:{key}"] = str(i)
    return form


def quiet_other_schedules():
    PeriodicTask.objects.exclude(task="reports.run_schedule").update(enabled=False)


# --- the "done when", end to end ------------------------------------------------------------


@pytest.mark.timing
def test_a_weekly_csv_of_my_images_with_three_columns_arrives_by_email_with_a_working_link(
    celery_worker, user, other_user, owner_client, start_beat, smtp
):
    zone = ZoneInfo("America/New_York")
    Profile.objects.create(user=user, time_zone="America/New_York")
    now = timezone.now()
    make_image(user, now - timedelta(days=2), title="harbour at dawn")
    make_image(user, now - timedelta(hours=1), title="=formula-looking", state="FAILED")
    make_image(user, now - timedelta(days=30), title="too old for the last 7 days")
    make_image(other_user, now - timedelta(hours=1), title="not mine")
    quiet_other_schedules()

    # The next whole minute (with room for beat to start), in the person's zone, on today's weekday.
    local = now.astimezone(zone)
    due = (local + timedelta(minutes=2 if local.second > 40 else 1)).replace(second=0, microsecond=0)
    form = page_form(at=due.strftime("%H:%M"), day_of_week=str(due.isoweekday() % 7))
    response = owner_client.post("/reports/schedules/", form, **HTML)
    assert response.status_code == 302, response.content.decode()[:2000]
    schedule = ReportSchedule.objects.get(owner=user)
    cron = schedule.periodic_task.crontab
    assert (cron.minute, cron.hour, cron.day_of_week) == (
        str(due.minute),
        str(due.hour),
        str(due.isoweekday() % 7),
    )
    assert str(cron.timezone) == "America/New_York" and schedule.periodic_task.task == "reports.run_schedule"

    beat = start_beat("reports")
    wait = (due - timezone.now()).total_seconds() + 90
    message = smtp.wait_for(1, timeout=wait)[0]["message"]
    assert message["To"].endswith("<alice@example.com>")
    assert message["Subject"] == "Your weekly media inventory report (CSV)"
    text = message.get_body(("plain",)).get_content()
    link = LINK.search(text).group(0)

    response = owner_client.get(link, **HTML)
    content = b"".join(response.streaming_content)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert csv_rows(content) == [
        ["Title", "State", "Uploaded at (America/New_York)"],
        [
            "harbour at dawn",
            "Ready",
            (now - timedelta(days=2)).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
        ],
        [
            "'=formula-looking",
            "Failed",
            (now - timedelta(hours=1)).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
        ],
    ]
    # The link is its owner's alone.
    from django.test import Client

    mallory = Client()
    mallory.force_login(other_user)
    assert mallory.get(link, **HTML).status_code == 404

    # One run for the period: one export, one send, and the page lists the schedule with its run.
    time.sleep(6)
    assert Export.objects.filter(schedule=schedule).count() == 1
    assert beat.sends(schedule.periodic_task.name) == 1, beat.log()
    page = owner_client.get("/reports/", **HTML).content.decode()
    assert (
        f'id="schedule-{schedule.pk}"' in page and "Title, State, Uploaded at" in page and "last run" in page
    )


# --- managing a schedule ------------------------------------------------------------------------------


def test_schedules_are_listed_paused_resumed_edited_and_deleted_by_their_owner_only(
    user, owner_client, other_client, admin_client
):
    Profile.objects.create(user=user, time_zone="Europe/Berlin")
    response = owner_client.post(
        "/reports/schedules/", page_form(frequency="monthly", day_of_month="3"), **JSON
    )
    assert response.status_code == 201, response.content
    body = response.json()
    schedule = ReportSchedule.objects.get(pk=body["id"])
    assert body["when"] == "On day 3 of every month at 08:00 (Europe/Berlin), the last 7 days"
    cron = schedule.periodic_task.crontab
    assert (cron.minute, cron.hour, cron.day_of_month, cron.day_of_week, str(cron.timezone)) == (
        "0",
        "8",
        "3",
        "*",
        "Europe/Berlin",
    )
    assert json.loads(schedule.periodic_task.kwargs) == {"schedule_id": schedule.pk}
    page = owner_client.get("/reports/", **HTML).content.decode()
    assert f'id="schedule-{schedule.pk}"' in page and "Active" in page

    # Another person: 404 for every action, nothing changes.
    for action in ("pause", "resume", "delete"):
        assert other_client.post(f"/reports/schedules/{schedule.pk}/{action}/", **JSON).status_code == 404
    assert other_client.get(f"/reports/schedules/{schedule.pk}/", **HTML).status_code == 404
    assert f'id="schedule-{schedule.pk}"' not in other_client.get("/reports/", **HTML).content.decode()

    assert owner_client.post(f"/reports/schedules/{schedule.pk}/pause/", **JSON).json()["enabled"] is False
    assert not PeriodicTask.objects.get(pk=schedule.periodic_task_id).enabled
    assert "Paused" in owner_client.get("/reports/", **HTML).content.decode()
    assert owner_client.post(f"/reports/schedules/{schedule.pk}/resume/", **JSON).json()["enabled"] is True

    # Edit: the page shows the current choice; a new time and weekday move the beat schedule.
    edit = owner_client.get(f"/reports/schedules/{schedule.pk}/", **HTML).content.decode()
    assert 'value="08:00"' in edit and 'name="columns:media_inventory" value="title" checked' in edit
    response = owner_client.post(
        f"/reports/schedules/{schedule.pk}/",
        page_form(at="06:45", day_of_week="0", columns=("uploaded_at", "title")),
        **HTML,
    )
    assert response.status_code == 302
    schedule.refresh_from_db()
    cron = schedule.periodic_task.crontab
    assert (cron.minute, cron.hour, cron.day_of_week, cron.day_of_month) == ("45", "6", "0", "*")
    assert schedule.columns == ["uploaded_at", "title"]

    # A person who moves keeps 06:45 in their new zone.
    owner_client.post("/accounts/settings/time-zone/", {"time_zone": "Asia/Tokyo"})
    schedule.refresh_from_db()
    assert schedule.time_zone == "Asia/Tokyo" and str(schedule.periodic_task.crontab.timezone) == "Asia/Tokyo"

    # Staff see it in the admin, ours and beat's.
    assert "report-schedule-" in admin_client.get("/admin/django_celery_beat/periodictask/").content.decode()
    assert admin_client.get("/admin/reports/reportschedule/").status_code == 200
    assert admin_client.get(f"/admin/reports/reportschedule/{schedule.pk}/change/").status_code == 200

    assert owner_client.post(f"/reports/schedules/{schedule.pk}/delete/", **JSON).json()["deleted"] is True
    assert not ReportSchedule.objects.exists() and not PeriodicTask.objects.filter(
        task="reports.run_schedule"
    )


def test_a_bad_schedule_is_a_400_with_its_sentence(user, owner_client):
    cases = [
        (page_form(columns=("title", "colour")), "Media inventory has no column 'colour'"),
        ({**page_form(), "frequency": "hourly"}, "Select a valid choice"),
        ({**page_form(), "at": "25:00"}, "Enter a valid time"),
        ({**page_form(), "range_days": "0"}, "greater than or equal to 1"),
        ({**page_form(), "frequency": "monthly", "day_of_month": "31"}, "less than or equal to 28"),
        (
            {**page_form(), "format:media_inventory": "JPEG", "state:media_inventory": "GONE"},
            "'GONE' is not a state",
        ),
    ]
    for form, sentence in cases:
        response = owner_client.post("/reports/schedules/", form, **JSON)
        assert response.status_code == 400 and sentence in str(response.json()["errors"]), (
            form,
            response.content,
        )
        page = owner_client.post("/reports/schedules/", form, **HTML)
        assert page.status_code == 400 and sentence.replace("'", "&#x27;") in page.content.decode()
    assert not ReportSchedule.objects.exists() and not PeriodicTask.objects.filter(
        task="reports.run_schedule"
    )


# --- runs: one per period, failures counted, paused after three ----------------------------------------


def test_one_run_per_period_through_the_slot_guard(celery_worker, user, owner_client, wait_job):
    from config.celery_app import app

    owner_client.post("/reports/schedules/", page_form(), **JSON)
    schedule = ReportSchedule.objects.get(owner=user)
    slot = {"backroom_slot": f"{schedule.periodic_task.name}@2026-01-05T07:00:00+00:00"}
    kwargs = {"schedule_id": schedule.pk}
    first = app.send_task("reports.run_schedule", kwargs=kwargs, headers=slot)
    assert "export_id" in wait_job(first.id).result
    again = app.send_task("reports.run_schedule", kwargs=kwargs, headers=slot)
    assert wait_job(again.id).result == {"skipped": "already ran for this period"}
    assert Export.objects.filter(schedule=schedule).count() == 1


def test_each_failed_run_notifies_once_and_the_third_in_a_row_pauses_the_schedule(
    celery_worker, user, owner_client, wait_job, smtp
):
    from config.celery_app import app

    owner_client.post("/reports/schedules/", page_form(), **JSON)
    schedule = ReportSchedule.objects.get(owner=user)
    # A choice that no longer fits (written past the form, as an older release might have): every
    # run's export fails with the sentence.
    ReportSchedule.objects.filter(pk=schedule.pk).update(columns=["title", "retired_column"])
    for n in (1, 2, 3):
        run = app.send_task("reports.run_schedule", kwargs={"schedule_id": schedule.pk})
        export = Export.objects.get(pk=wait_job(run.id).result["export_id"])
        assert wait_job(export.job.task_id).state == "FAILURE"
        schedule.refresh_from_db()
        assert schedule.failures_in_a_row == n
    assert not PeriodicTask.objects.get(pk=schedule.periodic_task_id).enabled
    assert schedule.paused_reason.startswith("Paused after 3 failed runs in a row.")
    assert "retired_column" in schedule.paused_reason

    failed = Notification.objects.filter(recipient=user, kind="export_failed").order_by("created_at")
    assert failed.count() == 3  # one per failed run, never more
    assert all(n.title == "Your weekly media inventory report failed" for n in failed)
    assert "Paused after 3 failed runs" in failed.last().body
    assert len(smtp.wait_for(3)) == 3
    time.sleep(1)
    assert len(smtp.messages) == 3

    page = owner_client.get("/reports/", **HTML).content.decode()
    assert "Paused after 3 failed runs in a row." in page and "Resume" in page
    # Paused: a run beat had already sent does nothing.
    late = app.send_task("reports.run_schedule", kwargs={"schedule_id": schedule.pk})
    assert wait_job(late.id).result == {"skipped": "paused"}
    # Resumed: a clean count and no reason.
    owner_client.post(f"/reports/schedules/{schedule.pk}/resume/")
    schedule.refresh_from_db()
    assert (schedule.failures_in_a_row, schedule.paused_reason) == (0, "")
    assert datetime.now(UTC) - schedule.periodic_task.last_run_at < timedelta(minutes=1)
