"""CSV beside XLSX, chosen columns and filters (issue 16.1, 16.2), asked over HTTP and built on a
real worker in the owner's own time zone (16.5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.storage import default_storage

from config.accounts.models import Profile
from reports.csvfile import CSV_CONTENT_TYPE
from reports.models import Export
from tests.helpers import HTML, ask, built, csv_rows, download, make_image, make_job, read_rows

pytestmark = pytest.mark.django_db(transaction=True)
T0 = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)  # 08:00 in Berlin (summer time)


def test_csv_with_chosen_columns_in_order_filters_and_the_owners_zone(
    celery_worker, user, other_user, owner_client, wait_job, smtp
):
    Profile.objects.create(user=user, time_zone="Europe/Berlin")
    make_image(user, T0, title="=cmd", original_format="PNG")
    make_image(user, T0 + timedelta(minutes=1), title="kept", state="READY")
    make_image(user, T0 + timedelta(minutes=2), title="failed one", state="FAILED")
    make_image(user, T0 + timedelta(minutes=3), title="a webp", original_format="WEBP")
    make_image(other_user, T0, title="not yours")

    export, status = built(
        owner_client,
        wait_job,
        kind="media_inventory",
        file_format="csv",
        columns="uploaded_at,title,state",
        state=["READY"],
        format=["JPEG", "PNG"],
    )
    assert export.format == "csv" and export.file.name.endswith(".csv")
    assert export.columns == ["uploaded_at", "title", "state"]
    assert export.filters == {"state": ["READY"], "format": ["JPEG", "PNG"]}
    assert status["rows"] == 2

    response, content = download(owner_client, status["download_url"], **HTML)
    assert response.status_code == 200 and response["Content-Type"] == CSV_CONTENT_TYPE
    assert response["Content-Disposition"].endswith('.csv"')
    assert csv_rows(content) == [
        ["Uploaded at (Europe/Berlin)", "Title", "State"],
        ["2026-07-01 08:00:00", "'=cmd", "Ready"],
        ["2026-07-01 08:01:00", "kept", "Ready"],
    ]
    # Its row on the page says what it holds.
    page = owner_client.get("/reports/", **HTML).content.decode()
    assert "CSV · Asked" in page
    assert "Uploaded at, Title, State · state Ready; format JPEG, PNG" in page
    # The ready email gives the link's expiry in the owner's zone, named.
    message = smtp.wait_for(1)[0]["message"]
    assert "Europe/Berlin time" in message.get_body(("plain",)).get_content()


def test_the_page_form_chooses_and_orders_columns_without_javascript(
    celery_worker, user, owner_client, wait_job
):
    make_job(user, T0, kind="media.compress", state="SUCCESS")
    make_job(user, T0 + timedelta(hours=1), kind="notifications.email", state="FAILURE", error="nope")
    form = {
        "kind": "job_history",
        "file_format": "xlsx",
        # Ticked: state, kind, error; numbered: error first, then kind, then state.
        "columns:job_history": ["kind", "state", "error"],
        "position:job_history:kind": "2",
        "position:job_history:state": "3",
        "position:job_history:error": "1",
        "position:job_history:queued": "4",
        "state:job_history": ["FAILURE"],
        # Another kind's fieldset, as the page sends it: not read.
        "columns:media_inventory": ["title"],
        "format:media_inventory": ["PNG"],
    }
    response = owner_client.post("/reports/exports/", form, **HTML)
    assert response.status_code == 302
    export = Export.objects.get(owner=user)
    assert export.columns == ["error", "kind", "state"] and export.filters == {"state": ["FAILURE"]}
    assert wait_job(export.job.task_id).state == "SUCCESS"
    export.refresh_from_db()
    assert read_rows(default_storage.open(export.file.name)) == [
        ("Error", "Kind", "State"),
        ("nope", "Email", "Failed"),
    ]
    page = owner_client.get("/reports/", **HTML).content.decode()
    # The form lists each kind's columns and the filters that fit it.
    assert 'name="columns:media_inventory" value="uploaded_at"' in page
    assert 'name="format:media_inventory" value="WEBP"' in page
    assert 'name="format:job_history"' not in page and 'name="owner:media_inventory"' not in page


@pytest.mark.parametrize(
    ("data", "sentence"),
    [
        ({"kind": "job_history", "columns": "kind,colour"}, "Job history has no column 'colour'"),
        ({"kind": "media_inventory", "columns": "title,title"}, "Choose each column once."),
        ({"kind": "job_history", "format": "PNG"}, "Job history cannot be filtered by format"),
        ({"kind": "daily_statistics_x", "columns": "day"}, "Select a valid choice"),
        ({"kind": "media_inventory", "state": "SHINY"}, "'SHINY' is not a state of media inventory"),
        ({"kind": "media_inventory", "owner": "mallory"}, "Only staff can export someone else's records."),
        ({"kind": "media_inventory", "colour": "red"}, "'colour': no such field"),
        ({"kind": "media_inventory", "file_format": "pdf"}, "Select a valid choice"),
        ({"kind": "job_history", "columns:job_history": ""}, "Choose at least one column."),
    ],
)
def test_a_column_or_filter_the_kind_lacks_is_a_400_with_a_sentence(
    user, other_user, owner_client, data, sentence
):
    response = ask(owner_client, **data)
    assert response.status_code == 400, response.content
    assert sentence in str(response.json()["errors"])
    page = owner_client.post("/reports/exports/", data, **HTML)
    assert page.status_code == 400 and sentence.replace("'", "&#x27;") in page.content.decode()
    assert not Export.objects.exists()


def test_staff_export_someone_elses_images(celery_worker, make_user, client, user, wait_job):
    staff = make_user("boss", is_staff=True)
    make_image(user, T0, title="alice's")
    make_image(staff, T0, title="boss's")
    client.force_login(staff)
    export, _ = built(client, wait_job, kind="media_inventory", owner="alice", columns="title")
    assert read_rows(default_storage.open(export.file.name)) == [("Title",), ("alice's",)]
    assert ask(client, kind="media_inventory", owner="nobody").json()["errors"]["__all__"] == [
        "There is no account named 'nobody'."
    ]
    page = client.get("/reports/", **HTML).content.decode()
    assert 'name="owner:media_inventory"' in page and "owner alice" in page


def test_the_worker_refuses_a_choice_written_past_the_form(celery_worker, user, wait_job):
    from django.db import transaction

    from config.core.services import job_create
    from reports import services

    with transaction.atomic():
        export = Export.objects.create(owner=user, kind="job_history", columns=["kind", "nonsense"])
        export.job = job_create(
            owner=user, kind=services.JOB_KIND, task_name=services.TASK_NAME, args=[export.pk]
        )
        export.save()
    job = wait_job(export.job.task_id)
    export.refresh_from_db()
    assert job.state == "FAILURE" and export.state == "FAILURE"
    assert export.error.startswith("Job history has no column 'nonsense'") and "Traceback" not in job.error
