"""Incomplete JPEGs through the real views and a real worker: refused, never grey renditions."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from media_app.models import Image
from tests.helpers import (
    JSON,
    cut_in_half_with_end_marker,
    post_upload,
    stored_files,
    tiny_jpeg_claiming,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_photo_cut_in_half_fails_in_the_worker_with_no_renditions(
    celery_worker, owner_client, user, photos, wait_job
):
    data = cut_in_half_with_end_marker((photos / "Landscape_0.jpg").read_bytes())
    upload = SimpleUploadedFile("half.jpg", data, content_type="image/jpeg")
    response = post_upload(owner_client, upload)
    assert response.status_code == 202, response.content  # the header cannot tell
    body = response.json()

    job = wait_job(body["task_id"], timeout=120)
    assert job.state == "FAILURE" and job.attempts == 1  # permanent: never retried
    assert job.error.startswith("This picture is incomplete")
    image = Image.objects.get(pk=body["image_id"])
    assert image.state == "FAILED" and image.error == job.error
    assert not image.renditions.exists()
    assert stored_files(f"media/renditions/{user.pk}/{image.pk}") == []
    detail = owner_client.get(f"/media/{image.pk}/", **JSON).json()
    assert detail["state"] == "FAILED" and detail["error"] == job.error and detail["renditions"] == []
    status = owner_client.get(body["status_url"]).json()
    assert status["state"] == "FAILURE" and status["error"] == job.error


def test_a_tiny_jpeg_claiming_7000x7000_is_refused_at_upload(owner_client, user, photos):
    upload = SimpleUploadedFile("tiny.jpg", tiny_jpeg_claiming(photos / "Landscape_0.jpg"))
    response = post_upload(owner_client, upload)
    assert response.status_code == 400
    [message] = response.json()["errors"]["image"]
    assert message.startswith("tiny.jpg: This picture is incomplete"), message
    assert "7000x7000" in message
    assert not Image.objects.filter(owner=user).exists()
    assert stored_files(f"media/originals/{user.pk}") == []
