"""Pages and JSON that need no worker: state shown from the job row, gallery, file headers."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.base import ContentFile

from config.core.models import Job
from media_app.models import Image, Rendition
from tests.helpers import HTML, JSON

pytestmark = pytest.mark.django_db


def make_image(owner, *, state="PENDING", job_state="QUEUED", job_error="", title="pic") -> Image:
    job = Job.objects.create(
        task_id=str(uuid.uuid4()),
        owner=owner,
        kind="media.compress",
        task_name="media_app.compress_image",
        state=job_state,
        error=job_error,
    )
    image = Image(owner=owner, title=title, original_format="JPEG", job=job, state=state)
    image.original.save("x.jpg", ContentFile(b"\xff\xd8 not really"), save=False)
    image.save()
    return image


def test_a_job_killed_by_its_time_limit_shows_as_failed(owner_client, user):
    """The hard time limit ends the job in the worker's main process, where no image code runs:
    the job row says FAILURE while the image row still says PROCESSING. Pages follow the job."""
    image = make_image(
        user, state="PROCESSING", job_state="FAILURE", job_error="This job took too long and was stopped."
    )
    body = owner_client.get(f"/media/{image.pk}/", **JSON).json()
    assert body["state"] == "FAILED" and body["error"] == "This job took too long and was stopped."
    html = owner_client.get(f"/media/{image.pk}/", **HTML).content.decode()
    assert "took too long" in html and "data-status-url" not in html


def test_a_running_job_shows_as_processing_with_live_status(owner_client, user):
    image = make_image(user, state="PENDING", job_state="PROGRESS")
    body = owner_client.get(f"/media/{image.pk}/", **JSON).json()
    assert body["state"] == "PROCESSING" and body["status_url"] == f"/tasks/{image.job.task_id}/"
    html = owner_client.get(f"/media/{image.pk}/", **HTML).content.decode()
    assert f'data-status-url="/tasks/{image.job.task_id}/"' in html
    assert '<meta http-equiv="refresh" content="3">' in html


def test_gallery_lists_only_the_users_images_newest_first(owner_client, user, other_user):
    mine = [make_image(user, title=f"mine {i}") for i in range(3)]
    make_image(other_user, title="theirs")
    body = owner_client.get("/media/", **JSON).json()
    assert [i["id"] for i in body["images"]] == [i.pk for i in reversed(mine)]
    assert body["count"] == 3
    html = owner_client.get("/media/", **HTML).content.decode()
    assert "mine 0" in html and "theirs" not in html
    assert "Some pictures are still being compressed" in html  # for browsers without JavaScript


def test_gallery_of_someone_elses_batch_is_404(owner_client, other_user):
    from media_app.models import UploadBatch

    batch = UploadBatch.objects.create(owner=other_user)
    assert owner_client.get(f"/media/?batch={batch.pk}", **HTML).status_code == 404


def test_empty_gallery_invites_an_upload(owner_client):
    html = owner_client.get("/media/", **HTML).content.decode()
    assert "No photos yet" in html and 'href="/media/upload/"' in html


def test_files_are_served_with_their_type_nosniff_and_private_caching(owner_client, user):
    image = make_image(user, state="READY", job_state="SUCCESS")
    name = "media/renditions/test/thumb.webp"
    Image._meta.get_field("original").storage.save(name, ContentFile(b"RIFF....WEBP"))
    Rendition.objects.create(image=image, name="thumb", format="WEBP", file=name, width=1, height=1, bytes=12)
    response = owner_client.get(f"/media/{image.pk}/thumb.webp")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, max-age=3600"
    assert response["Content-Disposition"] == f'inline; filename="{image.pk}-thumb.webp"'
    assert owner_client.get(f"/media/{image.pk}/thumb.jpg").status_code == 404
    assert owner_client.get(f"/media/{image.pk}/huge.webp").status_code == 404
    assert owner_client.get(f"/media/{image.pk}/thumb.exe").status_code == 404


@pytest.mark.parametrize(("server", "header"), [("nginx", "X-Accel-Redirect"), ("apache", "X-Sendfile")])
def test_files_can_be_handed_to_the_web_server(owner_client, user, settings, server, header):
    settings.PRIVATE_FILES_SERVER = server
    image = make_image(user)
    response = owner_client.get(f"/media/{image.pk}/original")
    assert response.status_code == 200 and response.content == b""
    assert response["Content-Type"] == "image/jpeg" and response["X-Content-Type-Options"] == "nosniff"
    if server == "nginx":
        assert response[header] == f"/_protected/{image.original.name}"
    else:
        assert response[header].endswith(image.original.name)
