"""Excel exports end to end: asked over HTTP, built on a real worker with a real Redis, read back."""

from __future__ import annotations

import io
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from openpyxl import load_workbook

from config.core import words
from config.core.models import Job
from config.core.services import job_create
from config.ops.models import DailyStatistics
from reports import services
from reports.excel import XLSX_CONTENT_TYPE
from reports.models import Export
from tests.helpers import (
    HTML,
    JSON,
    ask,
    ask_ok,
    built,
    download,
    make_image,
    make_job,
    read_rows,
    soffice_csv,
)

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2025, 3, 10, 9, 0, 0, tzinfo=UTC)


# --- helpers --------------------------------------------------------------------------------------


def naive(dt: datetime | None) -> datetime | None:
    return dt.astimezone(UTC).replace(tzinfo=None) if dt else None


def seed_active_exports(user, n: int) -> list[Export]:
    """Exports queued as far as the database knows (their tasks are never sent)."""
    exports = []
    for _ in range(n):
        job = Job.objects.create(
            task_id=str(uuid.uuid4()), owner=user, kind=services.JOB_KIND, task_name=services.TASK_NAME
        )
        exports.append(Export.objects.create(owner=user, kind=Export.Kind.JOB_HISTORY, job=job))
    return exports


# --- each kind exports exactly its rows -----------------------------------------------------------


def test_job_history_exports_exactly_the_users_jobs(celery_worker, user, other_user, owner_client, wait_job):
    jobs = [
        make_job(user, T0, took=2),
        make_job(
            user,
            T0 + timedelta(hours=1),
            kind="notifications.email",
            state="FAILURE",
            took=5,
            error='=HYPERLINK("http://x") and a bell\x07',
        ),
        make_job(user, T0 + timedelta(hours=2), state="QUEUED"),
    ]
    make_job(other_user, T0 + timedelta(minutes=30))

    export, status = built(owner_client, wait_job, kind="job_history")

    assert status["state"] == "SUCCESS" and status["rows"] == 3 and export.rows == 3
    assert status["bytes"] == export.bytes == default_storage.size(export.file.name)
    assert export.file.name.startswith("exports/") and export.file.name == export.storage_name
    rows = read_rows(default_storage.open(export.file.name))
    # Date-time columns name the owner's time zone (issue 16.5; alice has none, so TIME_ZONE).
    times = ("Queued (UTC)", "Started (UTC)", "Finished (UTC)")
    assert rows[0] == ("Kind", "State", *times, "Duration", "Error")
    expected = [
        (
            words.kind_name(j.kind),
            words.state_word(j.state),
            naive(j.created_at),
            naive(j.started_at),
            naive(j.finished_at),
            (j.finished_at - j.started_at) if j.finished_at else None,
            j.error.replace("\x07", "") or None,
        )
        for j in jobs
    ]
    assert rows[1:] == expected
    ws = load_workbook(default_storage.open(export.file.name)).worksheets[0]
    assert ws["G3"].data_type == "s"  # the formula-looking error is text


def test_job_history_date_range_includes_both_days(celery_worker, user, owner_client, wait_job):
    make_job(user, datetime(2025, 1, 9, 23, 59, 59, tzinfo=UTC), kind="before")
    make_job(user, datetime(2025, 1, 10, 0, 0, 0, tzinfo=UTC), kind="first-day")
    make_job(user, datetime(2025, 1, 11, 23, 59, 59, tzinfo=UTC), kind="last-day")
    make_job(user, datetime(2025, 1, 12, 0, 0, 0, tzinfo=UTC), kind="after")
    export, _ = built(
        owner_client, wait_job, kind="job_history", date_from="2025-01-10", date_to="2025-01-11"
    )
    rows = read_rows(default_storage.open(export.file.name))
    assert [r[0] for r in rows[1:]] == ["first-day", "last-day"]
    assert export.date_from == date(2025, 1, 10) and export.date_to == date(2025, 1, 11)


# PostgreSQL cannot store NUL in text at all; elsewhere the export must drop it (the pure writer's
# own test covers NUL on every database).
NUL = "" if connection.vendor == "postgresql" else "\x00"


def test_media_inventory_exports_each_image_and_text_stays_text(
    celery_worker, user, other_user, owner_client, wait_job
):
    images = [
        make_image(user, T0, title="Sunset"),
        make_image(user, T0 + timedelta(minutes=1), title="=1+2", bytes_in=1000, bytes_out=250),
        make_image(
            user, T0 + timedelta(minutes=2), title="+cmd|' /C calc'!A0", state="FAILED", bytes_out=None
        ),
        make_image(user, T0 + timedelta(minutes=3), title=f"@SUM(1){NUL}\x1b tail", original_format="PNG"),
        make_image(
            user, T0 + timedelta(minutes=4), title="-5", state="PENDING", bytes_in=None, bytes_out=None
        ),
    ]
    make_image(other_user, T0, title="not yours")

    export, status = built(owner_client, wait_job, kind="media_inventory")

    assert status["rows"] == 5
    rows = read_rows(default_storage.open(export.file.name))
    assert rows[0] == (
        "Title",
        "Format",
        "Width (px)",
        "Height (px)",
        "Bytes before",
        "Bytes after",
        "Saving (%)",
        "State",
        "Uploaded at (UTC)",
    )
    assert rows[1:] == [
        ("Sunset", "JPEG", 4000, 3000, 2_000_000, 500_000, 75.0, "Ready", naive(images[0].created_at)),
        ("=1+2", "JPEG", 4000, 3000, 1000, 250, 75.0, "Ready", naive(images[1].created_at)),
        (
            "+cmd|' /C calc'!A0",
            "JPEG",
            4000,
            3000,
            2_000_000,
            None,
            None,
            "Failed",
            naive(images[2].created_at),
        ),
        ("@SUM(1) tail", "PNG", 4000, 3000, 2_000_000, 500_000, 75.0, "Ready", naive(images[3].created_at)),
        ("-5", "JPEG", 4000, 3000, None, None, None, "Queued", naive(images[4].created_at)),
    ]
    ws = load_workbook(default_storage.open(export.file.name)).worksheets[0]
    assert all(ws.cell(row=r, column=1).data_type == "s" for r in range(2, 7))
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:I6" and ws["A1"].font.b

    # LibreOffice evaluates formulas on load: a formula would show its result, not its text.
    table = soffice_csv(default_storage.open(export.file.name).read())
    assert [r[0] for r in table] == ["Title", "Sunset", "=1+2", "+cmd|' /C calc'!A0", "@SUM(1) tail", "-5"]
    assert table[2][4:7] == ["1000", "250", "75"]


def test_daily_statistics_for_staff_with_number_formats(celery_worker, make_user, client, wait_job):
    staff = make_user("boss", is_staff=True)
    client.force_login(staff)
    DailyStatistics.objects.create(
        day=date(2025, 2, 1),
        uploads=3,
        bytes_in=3_000_000,
        bytes_out=1_000_000,
        saving_percent=66.7,
        processing_p50_ms=120,
        processing_p95_ms=480,
        failures=1,
        exports=2,
        emails_sent=4,
    )
    DailyStatistics.objects.create(day=date(2025, 2, 2), uploads=0)
    DailyStatistics.objects.create(day=date(2025, 2, 3), uploads=9)

    export, _ = built(client, wait_job, kind="daily_statistics", date_to="2025-02-02")

    rows = read_rows(default_storage.open(export.file.name))
    assert rows[0][:3] == ("Day", "Uploads", "Bytes in")
    assert rows[1:] == [
        (datetime(2025, 2, 1), 3, 3_000_000, 1_000_000, 66.7, 120, 480, 1, 2, 4),
        (datetime(2025, 2, 2), 0, 0, 0, 0, None, None, 0, 0, 0),
    ]
    ws = load_workbook(default_storage.open(export.file.name)).worksheets[0]
    assert ws["C2"].number_format == "#,##0" and ws["A2"].number_format == "yyyy-mm-dd"
    table = soffice_csv(default_storage.open(export.file.name).read())
    assert table[1][:3] == ["2025-02-01", "3", "3,000,000"]


def test_daily_statistics_is_not_available_to_others(owner_client):
    response = ask(owner_client, kind="daily_statistics")
    assert response.status_code == 400
    assert response.json() == {"errors": {"kind": ["This report is not available to you."]}}
    assert not Export.objects.exists()
    page = owner_client.get("/reports/", **HTML).content.decode()
    assert 'value="job_history"' in page and 'value="daily_statistics"' not in page


def test_bad_input_is_400_with_errors(owner_client):
    assert ask(owner_client).json()["errors"]["kind"]
    assert ask(owner_client, kind="everything").status_code == 400
    bad_dates = ask(owner_client, kind="job_history", date_from="2025-02-02", date_to="2025-02-01")
    assert bad_dates.status_code == 400 and "date_to" in bad_dates.json()["errors"]
    assert ask(owner_client, kind="job_history", date_from="yesterday").status_code == 400
    page = owner_client.post("/reports/exports/", {"kind": "everything"}, **HTML)
    assert page.status_code == 400 and "Select a valid choice" in page.content.decode()
    assert not Export.objects.exists()


# --- progress -------------------------------------------------------------------------------------


def test_progress_moves_from_zero_to_hundred(celery_worker, user, owner_client, wait_job):
    Job.objects.bulk_create(
        Job(
            task_id=str(uuid.uuid4()),
            owner=user,
            kind="bulk",
            task_name="x",
            state="SUCCESS",
            created_at=T0 + timedelta(seconds=i),
        )
        for i in range(20_000)
    )
    body = ask_ok(owner_client, kind="job_history")
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = owner_client.get(body["status_url"]).json()
        if status["progress"]:
            seen.append(status["progress"]["percent"])
        if status["state"] in ("SUCCESS", "FAILURE"):
            break
        time.sleep(0.02)
    assert status["state"] == "SUCCESS"
    assert status["progress"] == {"current": 20_000, "total": 20_000, "percent": 100.0}
    assert seen == sorted(seen), "progress went backwards"
    assert any(p < 100 for p in seen), f"no progress seen before the end: {seen}"
    assert Export.objects.get(pk=body["export_id"]).rows == 20_000


# --- owner only -----------------------------------------------------------------------------------


def test_others_and_anonymous_get_404_for_export_status_and_download(
    celery_worker, user, owner_client, other_client, wait_job
):
    from django.test import Client

    client = Client()  # anonymous (owner_client is the `client` fixture, logged in)
    make_job(user, T0)
    export, status = built(owner_client, wait_job, kind="job_history")
    url = status["download_url"]
    assert url.startswith(f"/reports/exports/{export.pk}/download/")

    for c in (other_client, client):
        assert c.get(f"/reports/exports/{export.pk}/", **JSON).status_code == 404
        assert c.get(url, **JSON).status_code == 404
        assert c.get(f"/tasks/{export.job.task_id}/").status_code == 404
    assert download(other_client, url, **HTML)[0].status_code == 404
    anonymous_browser = client.get(url, **HTML)
    assert anonymous_browser.status_code == 302 and "/accounts/login/" in anonymous_browser["Location"]
    assert f'id="export-{export.pk}"' not in other_client.get("/reports/", **HTML).content.decode()
    assert Export.objects.get(pk=export.pk).downloads == 0


def test_owner_downloads_the_file_and_each_download_is_counted(celery_worker, user, owner_client, wait_job):
    make_job(user, T0)
    export, status = built(owner_client, wait_job, kind="job_history")
    assert set(status) == {
        "id",
        "kind",
        "state",
        "state_label",
        "rows",
        "bytes",
        "download_url",
        "expires_at",
        "error",
    }
    assert status["error"] is None and status["kind"] == "job_history"
    assert abs(datetime.fromisoformat(status["expires_at"]) - (export.finished_at + timedelta(hours=24))) < (
        timedelta(seconds=1)
    )

    response, content = download(owner_client, status["download_url"], **HTML)
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX_CONTENT_TYPE
    day = timezone.localdate(export.finished_at).isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="job_history-{day}.xlsx"'
    assert "no-store" in response["Cache-Control"]
    assert read_rows(io.BytesIO(content))[1][0] == "Picture compression"
    download(owner_client, status["download_url"])
    assert Export.objects.get(pk=export.pk).downloads == 2


def test_expired_and_tampered_links_are_refused_with_a_clear_page(
    celery_worker, user, owner_client, wait_job
):
    make_job(user, T0)
    export, status = built(owner_client, wait_job, kind="job_history")
    make_job(user, T0)
    other_export, _ = built(owner_client, wait_job, kind="job_history")

    class SignedLongAgo(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - 25 * 3600)

    old = SignedLongAgo(salt=services.DOWNLOAD_SALT).sign_object({"e": export.pk, "u": export.owner_id})
    expired = owner_client.get(f"/reports/exports/{export.pk}/download/{old}/", **HTML)
    assert expired.status_code == 410
    assert "This download link has expired" in expired.content.decode()
    assert owner_client.get(f"/reports/exports/{export.pk}/download/{old}/", **JSON).json()["error"]

    token = status["download_url"].rstrip("/").rsplit("/", 1)[1]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    refused = owner_client.get(f"/reports/exports/{export.pk}/download/{tampered}/", **HTML)
    assert refused.status_code == 403 and "not valid" in refused.content.decode()
    # A genuine link for another export does not open this one.
    other_token = services.export_download_token(export=other_export)
    assert (
        owner_client.get(f"/reports/exports/{export.pk}/download/{other_token}/", **HTML).status_code == 403
    )
    # Signed with the same key but for something else (another salt): refused too.
    foreign = signing.TimestampSigner(salt="elsewhere").sign_object({"e": export.pk, "u": export.owner_id})
    assert owner_client.get(f"/reports/exports/{export.pk}/download/{foreign}/", **HTML).status_code == 403
    assert Export.objects.get(pk=export.pk).downloads == 0


def test_expired_export_has_no_link_and_its_download_is_gone(celery_worker, user, owner_client, wait_job):
    make_job(user, T0)
    export, status = built(owner_client, wait_job, kind="job_history")
    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    late = owner_client.get(status["download_url"], **HTML)
    assert late.status_code == 410 and "expired" in late.content.decode()
    now = owner_client.get(f"/reports/exports/{export.pk}/", **JSON).json()
    assert now["state"] == "EXPIRED" and now["download_url"] is None


# --- ready → notified -----------------------------------------------------------------------------


def test_owner_is_notified_with_an_absolute_link(celery_worker, user, owner_client, wait_job, settings):
    from notifications.models import Notification

    make_job(user, T0)
    export, _ = built(owner_client, wait_job, kind="job_history")
    note = Notification.objects.get(recipient=user, kind="export_ready")
    assert note.link.startswith(settings.SITE_URL + f"/reports/exports/{export.pk}/download/")
    assert note.body.startswith("1 row, ")
    path = note.link[len(settings.SITE_URL) :]
    assert download(owner_client, path)[0].status_code == 200


# --- failures and limits --------------------------------------------------------------------------


def test_fourth_concurrent_export_gets_429_with_a_clear_message(celery_worker, user, owner_client, wait_job):
    first, *_ = seed_active_exports(user, 3)
    refused = ask(owner_client, kind="job_history")
    assert refused.status_code == 429
    message = refused.json()["error"]
    assert "already have 3 exports being prepared" in message
    page = owner_client.post("/reports/exports/", {"kind": "job_history"}, **HTML)
    assert page.status_code == 429 and "already have 3 exports being prepared" in page.content.decode()
    assert Export.objects.filter(owner=user).count() == 3

    # One finishing (or dying: its job row is what counts) frees a place.
    Job.objects.filter(pk=first.job_id).update(state="FAILURE", error="The worker running this job stopped.")
    body = ask_ok(owner_client, kind="job_history")
    assert wait_job(body["task_id"]).state == "SUCCESS"
    dead = owner_client.get(f"/reports/exports/{first.pk}/", **JSON).json()
    assert dead["state"] == "FAILURE" and dead["error"] == "The worker running this job stopped."


def test_limit_holds_under_concurrent_requests(make_user, monkeypatch):
    """Six requests at once with one export already active: exactly two more are accepted.

    Their tasks are not sent: a worker finishing an empty export in milliseconds would free a place
    mid-race and hide a broken lock. The jobs stay QUEUED, which is all the limit looks at.
    """
    from config.core import services as job_services

    monkeypatch.setattr(job_services, "job_send", lambda *, job: None)
    racer = make_user("racer")
    seed_active_exports(racer, 1)
    outcomes = []
    start = threading.Barrier(6)

    def request():
        try:
            start.wait()
            outcomes.append(services.export_request(user=racer, kind="job_history"))
        except services.ExportLimitReached:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    accepted = [o for o in outcomes if o != "refused"]
    assert len(outcomes) == 6 and len(accepted) == 2
    assert Export.objects.filter(owner=racer).count() == 3


def test_failed_export_ends_failure_with_a_message_and_no_file(celery_worker, user, owner_client, wait_job):
    with transaction.atomic():
        export = Export.objects.create(owner=user, kind="no_such_report")
        export.job = job_create(
            owner=user, kind=services.JOB_KIND, task_name=services.TASK_NAME, args=[export.pk]
        )
        export.save()
    # A file an earlier attempt left under this export's name must not survive the failure.
    default_storage.save(export.storage_name, ContentFile(b"partial"))
    job = wait_job(export.job.task_id)
    assert job.state == "FAILURE" and "Traceback" not in job.error
    export.refresh_from_db()
    assert export.state == "FAILURE" and export.error == job.error and not export.file
    assert not default_storage.exists(export.storage_name)
    status = owner_client.get(f"/reports/exports/{export.pk}/", **JSON).json()
    assert status["state"] == "FAILURE" and status["download_url"] is None and status["error"]
    page = owner_client.get("/reports/", **HTML).content.decode()
    assert "state-FAILURE" in page and export.error in page
    from notifications.models import Notification

    note = Notification.objects.get(recipient=user, kind="export_failed")
    assert note.body == export.error and note.link == "/reports/"


def test_too_many_rows_fails_cleanly_and_leaves_no_files(make_user, settings, tmp_path, monkeypatch):
    """Run in this process: the worker's limit cannot be lowered per test."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    settings.REPORTS_TEMP_DIR = tmp_path
    settings.REPORTS_MAX_ROWS = 5
    owner = make_user("quiet", email="")
    for i in range(12):
        make_job(owner, T0 + timedelta(seconds=i))
    export = Export.objects.create(owner=owner, kind=Export.Kind.JOB_HISTORY)
    default_storage.save(export.storage_name, ContentFile(b"left by an earlier attempt"))
    from config.core.errors import HumanError

    with pytest.raises(HumanError, match="more than one export may hold"):
        services.export_build(export_id=export.pk)
    export.refresh_from_db()
    assert export.state == "FAILURE" and "12 rows" in export.error and not export.file
    assert not default_storage.exists(export.storage_name)
    assert list(tmp_path.iterdir()) == []  # neither our temporary file nor openpyxl's


def test_building_twice_leaves_one_file(make_user):
    owner = make_user("twice", email="")
    make_job(owner, T0)
    export = Export.objects.create(owner=owner, kind=Export.Kind.JOB_HISTORY)
    first = services.export_build(export_id=export.pk)
    assert first["state"] == "SUCCESS" and first["rows"] == 1
    export.refresh_from_db()
    stored = export.file.name
    # A duplicate delivery of a finished export changes nothing.
    assert services.export_build(export_id=export.pk) == first
    # A re-run after a crash (row still STARTED, file already stored) replaces the file.
    make_job(owner, T0 + timedelta(minutes=1))
    Export.objects.filter(pk=export.pk).update(state="STARTED")
    second = services.export_build(export_id=export.pk)
    export.refresh_from_db()
    assert second["state"] == "SUCCESS" and second["rows"] == 2 and export.file.name == stored
    _, files = default_storage.listdir("exports")
    assert [f for f in files if stored.endswith(f)] == [stored.rsplit("/", 1)[1]]


# --- the page -------------------------------------------------------------------------------------


def test_page_lists_exports_with_progress_bars_and_download_buttons(
    celery_worker, user, owner_client, wait_job
):
    make_job(user, T0)
    _, status = built(owner_client, wait_job, kind="job_history")
    (queued,) = seed_active_exports(user, 1)
    page = owner_client.get("/reports/", **HTML)
    html = page.content.decode()
    assert page.status_code == 200
    assert f'href="{status["download_url"]}"' in html and ">Download</a>" in html
    assert f'data-task-url="/tasks/{queued.job.task_id}/"' in html and "<progress" in html
    assert '<noscript><meta http-equiv="refresh"' in html
    assert 'src="/static/reports/exports.js"' in html
    # Its size in words: "1 row", never "1 rows".
    rows = status["rows"]
    assert (f"· {rows} row ·" if rows == 1 else f"· {rows:,} rows ·") in html
    assert " 1 rows" not in html
    # Nothing active: no refresh.
    Job.objects.filter(pk=queued.job_id).update(state="FAILURE")
    assert "http-equiv" not in owner_client.get("/reports/", **HTML).content.decode()


def test_browser_form_post_redirects_to_the_page(celery_worker, user, owner_client, wait_job):
    response = owner_client.post("/reports/exports/", {"kind": "job_history"}, **HTML)
    assert response.status_code == 302 and response["Location"] == "/reports/"
    export = Export.objects.get(owner=user)
    wait_job(export.job.task_id)
    assert "is being prepared" in owner_client.get("/reports/", **HTML).content.decode()


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_production_servers_get_the_file_by_header(server, make_user, settings):
    settings.PRIVATE_FILES_SERVER = server
    owner = make_user("prod", email="")
    make_job(owner, T0)
    export = Export.objects.create(owner=owner, kind=Export.Kind.JOB_HISTORY)
    services.export_build(export_id=export.pk)
    export.refresh_from_db()
    from django.test import Client

    c = Client()
    c.force_login(owner)
    response = c.get(services.export_download_url(export=export), **HTML)
    assert response.status_code == 200 and response.content == b""
    assert response["Content-Type"] == XLSX_CONTENT_TYPE
    assert response["Content-Disposition"].startswith('attachment; filename="job_history-')
    if server == "nginx":
        assert response["X-Accel-Redirect"] == "/_protected/" + export.file.name
    else:
        assert response["X-Sendfile"] == default_storage.path(export.file.name)
    assert Export.objects.get(pk=export.pk).downloads == 1
