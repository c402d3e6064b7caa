"""My data: a person's archive, built by a real worker, and the erasure of their account, with the
storage listed (through the storage API) before and after."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.contrib.sessions.models import Session
from django.core.files.storage import default_storage
from django.test import Client
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config.core.models import Job
from config.mydata.models import Archive
from media_app.models import Image, Rendition
from notifications.models import Notification
from reports import services as reports_services
from reports.models import Export
from tests.helpers import HTML, JSON, post_upload

pytestmark = pytest.mark.django_db(transaction=True)


def storage_listing(storage=default_storage, folder: str = "") -> set[str]:
    """Every stored file, through the storage API (works on local disk and S3 alike)."""
    dirs, files = storage.listdir(folder)
    found = {f"{folder}{name}" for name in files}
    for d in dirs:
        found |= storage_listing(storage, f"{folder}{d}/")
    return found


def upload_ready(client, path, wait_job) -> int:
    body = post_upload(client, path).json()
    assert wait_job(body["task_id"]).state == "SUCCESS"
    return body["image_id"]


@pytest.fixture
def photo(testdata):
    return testdata / "images" / "photos" / "Landscape_6.jpg"


def test_a_person_downloads_everything_we_hold_about_them(
    celery_worker, owner_client, other_client, user, photo, wait_job
):
    image_id = upload_ready(owner_client, photo, wait_job)
    export = reports_services.export_request(user=user, kind=Export.Kind.MEDIA_INVENTORY)
    assert wait_job(export.job.task_id).state == "SUCCESS"

    response = owner_client.post("/mydata/archive/", **JSON)
    assert response.status_code == 202
    body = response.json()
    job = wait_job(body["task_id"])
    assert job.state == "SUCCESS" and job.progress_current == job.progress_total
    assert owner_client.get(body["status_url"]).json()["progress"]["percent"] == 100.0

    archives = owner_client.get("/mydata/", **JSON).json()["archives"]
    url = archives[0]["download_url"]
    assert archives[0]["state"] == "SUCCESS" and url
    assert other_client.get(url).status_code == 404  # the link is its owner's only
    assert owner_client.get(url[:-3] + "abc/").status_code == 404  # altered
    download = owner_client.get(url)
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    names = set(zf.namelist())

    image = Image.objects.get(pk=image_id)
    assert zf.read(f"pictures/{image_id}/original.jpg") == photo.read_bytes()
    for r in Rendition.objects.filter(image=image):
        with default_storage.open(r.file.name, "rb") as fh:
            assert zf.read(f"pictures/{image_id}/{r.name}.{r.extension}") == fh.read()
    assert json.loads(zf.read("pictures.json"))[0]["id"] == image_id
    export.refresh_from_db()
    assert [n for n in names if n.startswith("exports/") and n.endswith(".xlsx")]
    assert json.loads(zf.read("exports.json"))[0]["id"] == export.pk
    told = json.loads(zf.read("notifications.json"))
    assert {t["title"] for t in told} >= {"Your picture is ready"}
    account = json.loads(zf.read("account.json"))
    assert account["username"] == "alice" and account["storage_bytes_used"] == photo.stat().st_size
    assert "email_preferences.json" in names


def test_deleting_an_account_removes_every_row_and_file_of_theirs(
    celery_worker, owner_client, other_client, user, other_user, photo, wait_job
):
    mine = upload_ready(owner_client, photo, wait_job)
    theirs = upload_ready(other_client, photo, wait_job)
    export = reports_services.export_request(user=user, kind=Export.Kind.MEDIA_INVENTORY)
    assert wait_job(export.job.task_id).state == "SUCCESS"
    archive_body = owner_client.post("/mydata/archive/", **JSON).json()
    assert wait_job(archive_body["task_id"]).state == "SUCCESS"
    every = PeriodicTask.objects.create(
        name="alice's weekly export",
        task="reports.build_export",
        interval=IntervalSchedule.objects.create(every=7, period="days"),
        kwargs=json.dumps({"owner_id": user.pk}),
    )
    second_session = Client()
    second_session.force_login(user)
    assert second_session.get("/media/", **HTML).status_code == 200

    my_files = {Image.objects.get(pk=mine).original.name, export.refresh_from_db() or export.file.name}
    my_files |= set(Rendition.objects.filter(image_id=mine).values_list("file", flat=True))
    my_files.add(Archive.objects.get(owner=user).file.name)
    other_files = {Image.objects.get(pk=theirs).original.name}
    other_files |= set(Rendition.objects.filter(image_id=theirs).values_list("file", flat=True))
    before = storage_listing()
    assert my_files <= before and other_files <= before

    # A wrong password changes nothing.
    refused = owner_client.post("/mydata/delete/", {"password": "nope", "confirm": "on"}, **HTML)
    assert refused.status_code == 400 and b"not your password" in refused.content
    assert type(user).objects.filter(pk=user.pk, is_active=True).exists()

    response = owner_client.post("/mydata/delete/", {"password": "pw-123456!", "confirm": "on"}, **HTML)
    assert response.status_code == 303 and response["Location"] == "/accounts/login/"
    # At once: every session has ended and the schedule is stopped.
    assert second_session.get("/media/", **HTML).status_code == 302
    assert owner_client.get("/media/", **HTML).status_code == 302
    assert PeriodicTask.objects.get(pk=every.pk).enabled is False

    erase = Job.objects.get(kind="mydata.erase", args=[user.pk])
    assert wait_job(erase.task_id).state == "SUCCESS"

    after = storage_listing()
    assert before - after == my_files  # theirs, all of it, and nothing else
    assert other_files <= after
    assert not type(user).objects.filter(pk=user.pk).exists()
    for model, field in [
        (Image._base_manager, "owner_id"),
        (Rendition._base_manager, "image__owner_id"),
        (Export._base_manager, "owner_id"),
        (Archive.objects, "owner_id"),
        (Notification.objects, "recipient_id"),
        (Job.objects, "owner_id"),
    ]:
        assert not model.filter(**{field: user.pk}).exists(), model.model
    assert not PeriodicTask.objects.filter(pk=every.pk).exists()
    assert not [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk)]
    assert other_client.get(f"/media/{theirs}/original").status_code == 200
