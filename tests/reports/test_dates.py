"""The dates an export may cover: from 1 January 2000 to a year after today, the start on or before
the end. Anything else is a 400 with a sentence (JSON) or the form again with it (browser), and no
export or job is written; a row that has an impossible range anyway fails on the worker with the
sentence, not a traceback."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from config.core.models import Job
from reports import dates, services
from reports.forms import ExportRequestForm
from reports.models import Export
from tests.helpers import HTML, JSON


def ask(client, headers=JSON, **data):
    return client.post("/reports/exports/", {"kind": "job_history", **data}, **headers)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("date_to", {"date_to": "9999-12-31"}),
        ("date_to", {"date_from": "2024-01-01", "date_to": "9999-12-31"}),
        ("date_from", {"date_from": "0001-01-01"}),
        ("date_from", {"date_from": "1999-12-31"}),
        ("date_to", {"date_to": (timezone.localdate() + timedelta(days=367)).isoformat()}),
    ],
)
def test_a_date_out_of_range_is_a_400_with_a_sentence_and_nothing_is_written(owner_client, field, values):
    response = ask(owner_client, **values)
    assert response.status_code == 400, response.content
    [message] = response.json()["errors"][field]
    assert message.startswith("Choose a date from 1 January 2000 to "), message
    page = ask(owner_client, headers=HTML, **values)
    assert page.status_code == 400
    html = page.content.decode()
    assert "Choose a date from 1 January 2000 to " in html and 'name="date_to"' in html
    assert not Export.objects.exists() and not Job.objects.exists()


@pytest.mark.django_db
def test_an_end_before_the_start_is_a_400_with_a_sentence(owner_client):
    response = ask(owner_client, date_from="2025-02-02", date_to="2025-02-01")
    assert response.status_code == 400
    assert response.json()["errors"] == {"date_to": ["The end date must be on or after the start date."]}
    assert not Export.objects.exists() and not Job.objects.exists()


@pytest.mark.django_db
def test_the_first_and_last_allowed_days_and_no_dates_at_all_are_accepted(user):
    latest = timezone.localdate() + timedelta(days=366)
    for data in (
        {"date_from": "2000-01-01", "date_to": latest.isoformat()},
        {"date_from": latest.isoformat(), "date_to": latest.isoformat()},
        {},
    ):
        form = ExportRequestForm({"kind": "job_history", **data}, user=user)
        assert form.is_valid(), form.errors
    widget = ExportRequestForm(user=user)["date_to"].as_widget()
    assert 'min="2000-01-01"' in widget and f'max="{latest.isoformat()}"' in widget


def test_the_rule_is_one_function():
    today = date(2026, 5, 1)
    assert dates.range_error(None, None, today=today) is None
    assert dates.range_error(date(2000, 1, 1), date(2027, 5, 2), today=today) is None
    assert dates.range_error(None, date(2027, 5, 3), today=today) == (
        "Choose a date from 1 January 2000 to 2 May 2027."
    )
    assert dates.range_error(date(2026, 1, 2), date(2026, 1, 1), today=today) == dates.MESSAGE_INVERTED


@pytest.mark.django_db(transaction=True)
def test_a_row_with_an_impossible_range_fails_on_the_worker_with_a_sentence(celery_worker, user, wait_job):
    """Written past the form (the shell, an older release): the worker must not overflow a date."""
    export = services.export_request(user=user, kind=Export.Kind.JOB_HISTORY, date_to=date(9999, 12, 31))
    job = wait_job(export.job.task_id, timeout=60)
    export.refresh_from_db()
    assert job.state == "FAILURE" and export.state == Export.State.FAILURE
    assert export.error.startswith("Choose a date from 1 January 2000 to "), export.error
    assert job.error == export.error and "Traceback" not in job.error
    assert not export.file
