"""Uploads through the real views, compressed by a real worker through a real Redis."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from PIL import Image as PILImage

from config.core.models import Job
from media_app import services
from media_app.models import Image, Rendition, UploadBatch
from tests.helpers import (
    HTML,
    JSON,
    PHOTO_RENDITIONS,
    as_upload,
    expected_renditions,
    post_upload,
    stored_files,
    wait_idle,
)

pytestmark = pytest.mark.django_db(transaction=True)
GRACE = settings.MEDIA_DELETE_GRACE_SECONDS


def upload_and_wait(client, path, wait_job, **kwargs):
    response = post_upload(client, path, **kwargs)
    assert response.status_code == 202, response.content
    body = response.json()
    job = wait_job(body["task_id"])
    return body, job


@pytest.mark.broker_roundtrip
def test_json_upload_answers_202_then_the_worker_makes_renditions(
    celery_worker, owner_client, user, photos, wait_job
):
    response = post_upload(owner_client, photos / "Landscape_6.jpg", title="Harbour")
    assert response.status_code == 202
    body = response.json()
    assert {"image_id", "task_id", "status_url"} <= set(body)
    assert body["status_url"] == f"/tasks/{body['task_id']}/"
    image = Image.objects.get(pk=body["image_id"])
    assert image.owner == user and image.job.task_id == body["task_id"]
    assert image.original.name.startswith(f"media/originals/{user.pk}/")
    assert "Landscape" not in image.original.name  # never the client's file name
    assert (image.original_format, image.original_width, image.original_height) == ("JPEG", 1800, 1200)

    job = wait_job(body["task_id"])
    assert job.state == "SUCCESS" and job.attempts == 1
    status = owner_client.get(body["status_url"]).json()
    assert status["state"] == "SUCCESS" and status["progress"]["percent"] == 100.0

    detail = owner_client.get(f"/media/{image.pk}/", **JSON).json()
    assert set(detail) >= {"id", "title", "state", "original", "renditions", "saving_percent", "error"}
    assert detail["state"] == "READY" and detail["title"] == "Harbour" and detail["error"] is None
    assert detail["original"] == {
        "url": f"/media/{image.pk}/original",
        "width": 1800,
        "height": 1200,
        "bytes": (photos / "Landscape_6.jpg").stat().st_size,
        "format": "JPEG",
    }
    got = {(r["name"], r["format"]): r for r in detail["renditions"]}
    assert set(got) == expected_renditions()
    assert (got["large", "JPEG"]["width"], got["large", "JPEG"]["height"]) == (1800, 1200)
    assert (got["medium", "WEBP"]["width"], got["medium", "WEBP"]["height"]) == (1024, 683)
    assert (got["small", "AVIF"]["width"], got["small", "AVIF"]["height"]) == (640, 427)
    assert (got["thumb", "JPEG"]["width"], got["thumb", "JPEG"]["height"]) == (256, 171)
    assert (got["square", "AVIF"]["width"], got["square", "AVIF"]["height"]) == (512, 512)
    assert detail["widths"] == [256, 640, 1024, 1800]

    image.refresh_from_db()
    assert image.bytes_in == detail["original"]["bytes"]
    assert image.bytes_out == min(got["large", f]["bytes"] for f in ("JPEG", "WEBP"))
    assert image.processing_ms is not None and image.processing_ms > 0
    assert detail["saving_percent"] == round(100 * (1 - image.bytes_out / image.bytes_in), 1)

    for r in detail["renditions"]:
        served = owner_client.get(r["url"])
        assert served.status_code == 200
        types = {"JPEG": "image/jpeg", "WEBP": "image/webp", "AVIF": "image/avif"}
        assert served["Content-Type"] == types[r["format"]]
        assert served["X-Content-Type-Options"] == "nosniff"
        assert "private" in served["Cache-Control"]
        content = b"".join(served.streaming_content)
        assert len(content) == r["bytes"]
        im = PILImage.open(io.BytesIO(content))
        assert im.format == r["format"] and im.size == (r["width"], r["height"])
        if r["name"] == "square":
            assert im.width == im.height
        else:
            assert im.width > im.height  # orientation 6 applied
        assert 0x0112 not in im.getexif()
    original = owner_client.get(detail["original"]["url"])
    assert original.status_code == 200 and original["Content-Type"] == "image/jpeg"
    assert original["X-Content-Type-Options"] == "nosniff"
    assert b"".join(original.streaming_content) == (photos / "Landscape_6.jpg").read_bytes()
    for r in Rendition.objects.filter(image=image):
        assert r.file.name.startswith(f"media/renditions/{user.pk}/{image.pk}/")


def test_browser_upload_redirects_303_to_a_page_that_shows_the_state(
    celery_worker, owner_client, photos, wait_job
):
    response = post_upload(owner_client, photos / "Portrait_8.jpg", accept=HTML)
    assert response.status_code == 303
    image = Image.objects.get()
    assert response["Location"] == f"/media/{image.pk}/"
    page = owner_client.get(response["Location"], **HTML)
    assert page.status_code == 200
    html = page.content.decode()
    if image.job.state not in Job.FINAL_STATES:
        assert f'data-status-url="/tasks/{image.job.task_id}/"' in html
        assert 'http-equiv="refresh"' in html  # without JavaScript the page reloads itself
    wait_job(image.job.task_id)
    html = owner_client.get(response["Location"], **HTML).content.decode()
    assert "Ready" in html and "% smaller" in html and "data-status-url" not in html
    image.refresh_from_db()
    versions = {(r.name, r.format): r.pk for r in image.renditions.all()}

    def srcset(fmt: str, ext: str, widths: dict[str, int]) -> str:
        return ", ".join(f"/media/{image.pk}/{n}.{ext}?v={versions[n, fmt]} {w}w" for n, w in widths.items())

    # The large picture offers every width of each format; the browser picks by sizes.
    ladder = {"thumb": 171, "small": 427, "medium": 683, "large": 1200}
    avif = {n: w for n, w in ladder.items() if n != "large"}
    large = html[
        html.index('<div class="media-large') : html.index(
            "</picture>", html.index('<div class="media-large')
        )
    ]
    assert f'<source type="image/avif" srcset="{srcset("AVIF", "avif", avif)}" sizes="' in large
    assert f'<source type="image/webp" srcset="{srcset("WEBP", "webp", ladder)}" sizes="' in large
    assert f'<img src="/media/{image.pk}/medium.jpg?v={versions["medium", "JPEG"]}"' in large
    assert f'srcset="{srcset("JPEG", "jpg", ladder)}" sizes="(max-width: 600px)' in large
    assert 'width="1200" height="1800"' in large  # portrait, upright
    assert f'data-thumbhash="{image.placeholder}"' in large and image.placeholder
    gallery = owner_client.get("/media/", **HTML).content.decode()
    # Gallery tiles are the square cut around the focal point.
    assert f'src="/media/{image.pk}/square.jpg?v={versions["square", "JPEG"]}"' in gallery
    assert "Portrait_8" in gallery


def test_another_user_gets_404_for_the_image_its_files_and_its_job(
    celery_worker, owner_client, other_client, photos, wait_job
):
    from django.test import Client

    anonymous = Client()
    body, _ = upload_and_wait(owner_client, photos / "Landscape_1.jpg", wait_job)
    pk = body["image_id"]
    urls = [
        f"/media/{pk}/",
        f"/media/{pk}/original",
        f"/media/{pk}/large.jpg",
        f"/media/{pk}/thumb.webp",
        body["status_url"],
    ]
    for url in urls:
        assert owner_client.get(url, **JSON).status_code == 200, url
        assert other_client.get(url, **JSON).status_code == 404, url
        assert other_client.get(url, **HTML).status_code == 404, url
        assert anonymous.get(url, **JSON).status_code == 404, url  # anonymous API client
    assert other_client.post(f"/media/{pk}/delete/", **JSON).status_code == 404
    assert pk not in [i["id"] for i in other_client.get("/media/", **JSON).json()["images"]]
    assert Image.objects.filter(pk=pk).exists()


def test_a_permanent_error_fails_once_with_a_human_message_and_leaves_nothing(
    celery_worker, owner_client, user, pillow_images, wait_job
):
    body, job = upload_and_wait(owner_client, pillow_images / "truncated_jpeg.jpg", wait_job)
    assert job.state == "FAILURE" and job.attempts == 1  # never retried
    assert job.error == "This picture is incomplete: the file was cut off."
    detail = owner_client.get(f"/media/{body['image_id']}/", **JSON).json()
    assert detail["state"] == "FAILED" and detail["error"] == job.error and detail["renditions"] == []
    assert stored_files(f"media/renditions/{user.pk}/{body['image_id']}") == []
    page = owner_client.get(f"/media/{body['image_id']}/", **HTML).content.decode()
    assert "the file was cut off" in page and "Traceback" not in page
    # The worker lives on.
    _, after = upload_and_wait(owner_client, pillow_images / "hopper.jpg", wait_job)
    assert after.state == "SUCCESS"


def test_a_duplicate_delivery_leaves_exactly_one_set_of_renditions(
    celery_worker, owner_client, user, photos, wait_job
):
    from config.celery_app import app

    body, job = upload_and_wait(owner_client, photos / "Portrait_3.jpg", wait_job)
    pk = body["image_id"]
    first = set(Rendition.objects.filter(image_id=pk).values_list("file", flat=True))
    # Two more deliveries of the same task at once, as after a lost acknowledgement: make the job
    # look unfinished again so both run, concurrently, on the worker's two processes.
    Job.objects.filter(pk=job.pk).update(state="STARTED", finished_at=None)
    for _ in range(2):
        app.send_task("media_app.compress_image", args=[pk], task_id=job.task_id)
    wait_job(job.task_id)
    wait_idle(celery_worker)
    rows = list(Rendition.objects.filter(image_id=pk))
    assert len(rows) == PHOTO_RENDITIONS and {(r.name, r.format) for r in rows} == expected_renditions()
    on_disk = stored_files(f"media/renditions/{user.pk}/{pk}")
    assert sorted(r.file.name for r in rows) == on_disk  # no orphan from the losing run
    assert not first & set(on_disk)  # the replaced set was deleted
    assert Image.objects.get(pk=pk).state == "READY"


def test_a_second_service_run_replaces_the_set_and_deletes_the_old_files(user, photos, settings):
    """The same idempotency in-process, without a worker: run the service twice."""
    from unittest import mock

    from media_app import imaging

    f = as_upload(photos / "Landscape_2.jpg")
    probe = imaging.probe(f, max_pixels=settings.MEDIA_MAX_PIXELS)
    with mock.patch("config.core.services.job_send"):  # no worker here: the job is never sent
        [image] = services.image_upload(owner=user, uploads=[services.Upload(file=f, probe=probe, title="x")])
    services.image_compress(image=image)
    first = stored_files(f"media/renditions/{user.pk}/{image.pk}")
    services.image_compress(image=image)
    second = stored_files(f"media/renditions/{user.pk}/{image.pk}")
    assert len(first) == len(second) == PHOTO_RENDITIONS and not set(first) & set(second)
    assert sorted(Rendition.objects.filter(image=image).values_list("file", flat=True)) == second


def test_deleting_an_image_deletes_its_files(celery_worker, owner_client, user, photos, wait_job):
    body, _ = upload_and_wait(owner_client, photos / "Landscape_4.jpg", wait_job)
    pk = body["image_id"]
    image = Image.objects.get(pk=pk)
    files = [image.original.name, *Rendition.objects.filter(image=image).values_list("file", flat=True)]
    assert all(stored_files(n) for n in files)
    response = owner_client.post(f"/media/{pk}/delete/", **HTML)
    assert response.status_code == 303 and response["Location"] == "/media/"
    # Soft first (docs/deletion.md): row and files go when the cleanup purges it after the grace.
    Image.objects.filter(pk=pk).update(deleted_at=timezone.now() - timedelta(seconds=GRACE + 1))
    services.images_purge_deleted()
    assert not Image.objects.filter(pk=pk).exists() and not Rendition.objects.filter(image_id=pk).exists()
    assert [n for n in files if stored_files(n)] == []
    assert owner_client.get(f"/media/{pk}/", **JSON).status_code == 404


def test_deleting_a_user_deletes_their_files(celery_worker, make_user, photos, wait_job, client):
    someone = make_user()
    client.force_login(someone)
    upload_and_wait(client, photos / "Landscape_5.jpg", wait_job)
    assert stored_files(f"media/originals/{someone.pk}") and stored_files(f"media/renditions/{someone.pk}")
    someone.delete()
    assert stored_files(f"media/originals/{someone.pk}") == []
    assert stored_files(f"media/renditions/{someone.pk}") == []


def test_a_batch_notifies_its_owner_once_when_every_image_is_done(
    celery_worker, owner_client, user, photos, pillow_images, wait_job
):
    from notifications.models import Notification

    files = [photos / "Landscape_7.jpg", photos / "Portrait_7.jpg", pillow_images / "truncated_image.png"]
    response = post_upload(owner_client, files)
    assert response.status_code == 202
    body = response.json()
    assert len(body["images"]) == 3 and body["batch_id"]
    batch = UploadBatch.objects.get(pk=body["batch_id"])
    assert Image.objects.filter(batch=batch).count() == 3
    for item in body["images"]:
        wait_job(item["task_id"])
    batch.refresh_from_db()
    assert batch.notified_at is not None
    [note] = Notification.objects.filter(recipient=user, kind="images_ready")
    assert note.title == "2 of 3 pictures are ready"
    assert note.body == "2 of 3 pictures are ready; 1 could not be read."
    assert note.link == f"/media/?batch={batch.pk}"
    # Settling again (a late duplicate) notifies nobody.
    assert services.batch_settle(batch_id=batch.pk) is False
    assert (
        Notification.objects.filter(recipient=user, kind__in=["images_ready", "images_failed"]).count() == 1
    )
    gallery = owner_client.get(f"/media/?batch={batch.pk}", **JSON).json()
    assert {i["state"] for i in gallery["images"]} == {"READY", "FAILED"} and gallery["count"] == 3


def test_browser_batch_upload_redirects_to_the_batch(celery_worker, owner_client, photos, wait_job):
    response = post_upload(owner_client, [photos / "Landscape_3.jpg", photos / "Portrait_2.jpg"], accept=HTML)
    assert response.status_code == 303
    batch = UploadBatch.objects.get()
    assert response["Location"] == f"/media/?batch={batch.pk}"
    for image in Image.objects.filter(batch=batch):
        wait_job(image.job.task_id)


def test_admin_can_filter_and_rerun_compression(celery_worker, owner_client, photos, wait_job, make_user):
    from django.test import Client

    body, job = upload_and_wait(owner_client, photos / "Landscape_8.jpg", wait_job)
    admin = make_user("boss", is_staff=True, is_superuser=True)
    staff = Client()
    staff.force_login(admin)
    listing = staff.get("/admin/media_app/image/?state__exact=READY&original_format__exact=JPEG")
    assert listing.status_code == 200 and "Landscape_8" in listing.content.decode()
    old = set(Rendition.objects.filter(image_id=body["image_id"]).values_list("file", flat=True))
    response = staff.post(
        "/admin/media_app/image/", {"action": "recompress", "_selected_action": [body["image_id"]]}
    )
    assert response.status_code == 302
    image = Image.objects.get(pk=body["image_id"])
    assert image.job.task_id != job.task_id
    assert wait_job(image.job.task_id).state == "SUCCESS"
    new = set(Rendition.objects.filter(image=image).values_list("file", flat=True))
    assert len(new) == PHOTO_RENDITIONS and not old & new


def test_a_single_upload_also_notifies_once(celery_worker, owner_client, user, photos, wait_job):
    from notifications.models import Notification

    body = post_upload(owner_client, [photos / "Landscape_2.jpg"]).json()
    assert set(body) >= {"image_id", "task_id", "status_url"}
    assert wait_job(body["task_id"]).state == "SUCCESS"
    deadline = time.monotonic() + 10
    while not Notification.objects.filter(recipient=user).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    [note] = Notification.objects.filter(recipient=user, kind="images_ready")
    assert note.body == "Your picture is ready."
