"""My data on S3 storage (moto's server mode, as in tests/storage/test_s3.py): the archive is built by
a worker that has no local files, from the objects in the bucket, and an account's erasure removes
every object of theirs and no one else's, with the bucket listed through the S3 API before and after.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from config.core.models import Job
from config.mydata.models import Archive
from media_app.models import Image, Rendition
from reports import services as reports_services
from reports.models import Export
from tests.helpers import HTML, JSON, post_upload
from tests.storage import test_s3

pytestmark = pytest.mark.django_db(transaction=True)

# The bucket, this process's S3 settings and a worker storing there: test_s3's fixtures, shared.
photos, s3, s3_settings, s3_worker = test_s3.photos, test_s3.s3, test_s3.s3_settings, test_s3.s3_worker


def upload_ready(client, path, wait_job) -> Image:
    body = post_upload(client, path).json()
    job = wait_job(body["task_id"], timeout=120)
    assert job.state == "SUCCESS", job.error
    return Image.objects.get(pk=body["image_id"])


def keys_of(image: Image) -> set[str]:
    return {image.original.name, *Rendition.objects.filter(image=image).values_list("file", flat=True)}


def test_an_archive_is_built_from_the_bucket(
    s3, s3_worker, owner_client, other_client, user, photos, wait_job
):
    image = upload_ready(owner_client, photos / "Landscape_6.jpg", wait_job)
    export = reports_services.export_request(user=user, kind=Export.Kind.MEDIA_INVENTORY)
    assert wait_job(export.job.task_id, timeout=120).state == "SUCCESS"
    export.refresh_from_db()

    body = owner_client.post("/mydata/archive/", **JSON).json()
    job = wait_job(body["task_id"], timeout=120)
    assert job.state == "SUCCESS", job.error
    archive = Archive.objects.get(owner=user)
    assert s3.keys(archive.file.name) == [archive.file.name]  # the zip itself is an object

    url = owner_client.get("/mydata/", **JSON).json()["archives"][0]["download_url"]
    assert other_client.get(url).status_code == 404
    download = owner_client.get(url)
    assert download.status_code == 200 and "Location" not in download  # streamed, not redirected
    zf = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    bucket = s3.client()

    def obj(key: str) -> bytes:
        return bucket.get_object(Bucket=s3.bucket, Key=key)["Body"].read()

    assert zf.read(f"pictures/{image.pk}/original.jpg") == obj(image.original.name)
    assert obj(image.original.name) == (photos / "Landscape_6.jpg").read_bytes()
    renditions = Rendition.objects.filter(image=image)
    assert renditions.count() == 14
    for r in renditions:
        assert zf.read(f"pictures/{image.pk}/{r.name}.{r.extension}") == obj(r.file.name)
    workbooks = [n for n in zf.namelist() if n.startswith("exports/") and n.endswith(".xlsx")]
    assert [zf.read(n) for n in workbooks] == [obj(export.file.name)]
    assert json.loads(zf.read("exports.json"))[0]["id"] == export.pk


def test_deleting_an_account_removes_every_object_of_theirs_from_the_bucket(
    s3, s3_worker, owner_client, other_client, user, other_user, photos, wait_job
):
    mine = upload_ready(owner_client, photos / "Landscape_6.jpg", wait_job)
    theirs = upload_ready(other_client, photos / "Landscape_6.jpg", wait_job)
    export = reports_services.export_request(user=user, kind=Export.Kind.MEDIA_INVENTORY)
    their_export = reports_services.export_request(user=other_user, kind=Export.Kind.MEDIA_INVENTORY)
    for e in (export, their_export):
        assert wait_job(e.job.task_id, timeout=120).state == "SUCCESS"
        e.refresh_from_db()
    archive_job = owner_client.post("/mydata/archive/", **JSON).json()["task_id"]
    assert wait_job(archive_job, timeout=120).state == "SUCCESS"

    my_keys = keys_of(mine) | {export.file.name, Archive.objects.get(owner=user).file.name}
    their_keys = keys_of(theirs) | {their_export.file.name}
    before = set(s3.keys())
    assert my_keys <= before and their_keys <= before
    assert len(my_keys) == 17  # the original, 14 renditions, the workbook and the archive

    response = owner_client.post("/mydata/delete/", {"password": "pw-123456!", "confirm": "on"}, **HTML)
    assert response.status_code == 303
    erase = Job.objects.get(kind="mydata.erase", args=[user.pk])
    assert wait_job(erase.task_id, timeout=120).state == "SUCCESS", erase.error

    after = set(s3.keys())
    assert before - after == my_keys  # every object of theirs, and nothing else
    assert their_keys <= after
    assert not s3.keys(f"media/originals/{user.pk}/") and not s3.keys(f"media/renditions/{user.pk}/")
    assert not type(user).objects.filter(pk=user.pk).exists()
    served = other_client.get(f"/media/{theirs.pk}/original")
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == (photos / "Landscape_6.jpg").read_bytes()
