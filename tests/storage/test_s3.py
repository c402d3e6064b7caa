"""S3 storage end to end (issue 20): every file of a photo and an export lives in a real S3 API
(moto's server mode, a subprocess on its own port), made and read by a real worker and the views.

The bucket is private and no presigned URL is ever handed out: the views stream the objects after
checking the owner (config/core/serving.py says why). The worker has no MEDIA_ROOT of ours to fall
back on: its MEDIA_ROOT points at a folder that must stay empty.
"""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from PIL import Image as PILImage

from config.celery_app import app
from config.settings.base import s3_storage
from media_app.models import Image
from reports.models import Export
from tests.harness import ALL_QUEUES, MotoS3Server, WorkerProcess, publishing_to
from tests.helpers import JSON, other_db, post_upload, read_rows

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def photos(testdata):
    return testdata / "images" / "photos"


@pytest.fixture(scope="module")
def s3():
    server = MotoS3Server().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def s3_settings(s3):
    """This process (the web side) stores in the bucket too, through the settings alone."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in s3.env().items():
            mp.setenv(name, value)
        with override_settings(STORAGES={**settings.STORAGES, "default": s3_storage()}):
            yield


@pytest.fixture(scope="module")
def s3_worker(s3, s3_settings, django_db_setup, django_db_blocker, tmp_path_factory):
    """A worker on every queue, on a Redis database of its own (the session's worker, on local
    disk, must not take these jobs), storing in the bucket; its MEDIA_ROOT must stay empty."""
    media_root = tmp_path_factory.mktemp("s3-worker-media-root")
    broker = other_db(settings.CELERY_BROKER_URL, 9)
    with django_db_blocker.unblock():
        worker = WorkerProcess(
            queues=ALL_QUEUES,
            concurrency=2,
            env={**s3.env(), "CELERY_BROKER_URL": broker, "MEDIA_ROOT": str(media_root)},
        ).start()
    worker.media_root = media_root
    with publishing_to(broker):
        worker.broker = broker
        yield worker
    worker.stop()
    assert not any(media_root.rglob("*")), "the S3 worker wrote to its local MEDIA_ROOT"


def test_a_photo_lives_in_the_bucket_from_upload_to_delete(
    s3, s3_worker, owner_client, other_client, user, photos, wait_job
):
    response = post_upload(owner_client, photos / "Landscape_6.jpg", title="Harbour")
    assert response.status_code == 202, response.content
    body = response.json()
    image = Image.objects.get(pk=body["image_id"])
    assert s3.keys(image.original.name) == [image.original.name]

    job = wait_job(body["task_id"], timeout=90)
    assert job.state == "SUCCESS", job.error
    image.refresh_from_db()
    renditions = sorted(image.renditions.values_list("file", flat=True))
    assert len(renditions) == 14  # 4 widths and the square; AVIF for all but the 2048 slot
    assert s3.keys(f"media/renditions/{user.pk}/{image.pk}/") == renditions

    detail = owner_client.get(f"/media/{image.pk}/", **JSON).json()
    assert detail["state"] == "READY"
    for r in detail["renditions"]:
        served = owner_client.get(r["url"])
        assert served.status_code == 200
        assert "Location" not in served  # streamed, never a redirect to the bucket
        content = b"".join(served.streaming_content)
        assert len(content) == r["bytes"]
        assert PILImage.open(io.BytesIO(content)).size == (r["width"], r["height"])
        assert other_client.get(r["url"]).status_code == 404
    original = owner_client.get(detail["original"]["url"])
    assert b"".join(original.streaming_content) == (photos / "Landscape_6.jpg").read_bytes()
    assert other_client.get(detail["original"]["url"]).status_code == 404

    # The bucket itself answers nobody without keys: no public read.
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{s3.url}/{s3.bucket}/{image.original.name}", timeout=5)  # noqa: S310
    assert refused.value.code == 403

    assert owner_client.post(f"/media/{image.pk}/delete/", **JSON).status_code == 204
    assert owner_client.get(f"/media/{image.pk}/", **JSON).status_code == 404
    # Deleting is soft first (docs/deletion.md): the objects stay for an undo until the grace period
    # ends; then the worker's cleanup purges the row and deletes its objects from the bucket.
    assert s3.keys(image.original.name) == [image.original.name]
    grace = settings.MEDIA_DELETE_GRACE_SECONDS
    Image.objects.filter(pk=image.pk).update(deleted_at=timezone.now() - timedelta(seconds=grace + 1))
    result = app.send_task("ops.cleanup")
    cleaned = wait_job(result.id, timeout=60)
    assert cleaned.state == "SUCCESS", cleaned.error
    assert not Image.objects.filter(pk=image.pk).exists()
    assert s3.keys(image.original.name) == []
    assert s3.keys(f"media/renditions/{user.pk}/{image.pk}/") == []


def test_an_export_is_stored_in_the_bucket_downloaded_and_cleaned_up(
    s3, s3_worker, owner_client, other_client, user, wait_job
):
    response = owner_client.post("/reports/exports/", {"kind": "job_history"}, **JSON)
    assert response.status_code == 202, response.content
    body = response.json()
    job = wait_job(body["task_id"], timeout=120)
    assert job.state == "SUCCESS", job.error
    export = Export.objects.get(pk=body["export_id"])
    assert s3.keys(export.file.name) == [export.file.name]
    assert export.file.name.startswith("exports/")

    status = owner_client.get(f"/reports/exports/{export.pk}/", **JSON).json()
    download = owner_client.get(status["download_url"])
    assert download.status_code == 200
    content = b"".join(download.streaming_content)
    assert len(content) == export.bytes
    assert read_rows(io.BytesIO(content))[0][0]  # the header row of a real workbook
    assert other_client.get(status["download_url"]).status_code == 404

    # An object nobody references (a worker killed between storing and committing) and the
    # export, whose link has expired: the worker's cleanup deletes both from the bucket.
    orphan = f"media/renditions/{user.pk}/999999/deadbeef/large.jpg"
    s3.client().put_object(Bucket=s3.bucket, Key=orphan, Body=b"left behind")
    time.sleep(1.1)  # S3 times have one-second resolution: the orphan must be older than the cutoff
    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    result = app.send_task("ops.cleanup", kwargs={"orphan_grace_hours": 1 / 3600})
    cleaned = wait_job(result.id, timeout=60)
    assert cleaned.state == "SUCCESS", cleaned.error
    assert cleaned.result["exports_deleted"] == 1 and cleaned.result["orphans_deleted"] >= 1
    assert not Export.objects.filter(pk=export.pk).exists()
    assert s3.keys(export.file.name) == []
    assert s3.keys(orphan) == []
