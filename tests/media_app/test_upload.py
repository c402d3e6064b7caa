"""The upload request: cheap checks only. No worker here; the jobs are never sent (the test's
transaction is rolled back, so on-commit sends never happen)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from PIL import Image as PILImage
from PIL import ImageFile

from media_app.models import Image
from tests.helpers import HTML, JSON, as_upload, post_upload

pytestmark = pytest.mark.django_db

REFUSED_AT_UPLOAD = {"broken.png", "decompression_bomb.gif"}


@pytest.fixture
def no_pixel_decoding(monkeypatch):
    """Any attempt to decode pixels fails the test (every load() Pillow or pillow-heif has)."""
    import pillow_heif.as_plugin
    from PIL import AvifImagePlugin

    # Registering every plugin builds a few tiny prototype images (PalmImagePlugin): not decoding,
    # so it happens before the patch, as it does once in any long-running process.
    PILImage.init()
    calls = []

    def forbidden(self, *args, **kwargs):
        calls.append(type(self).__name__)
        raise AssertionError(f"pixels decoded during the upload request ({type(self).__name__})")

    def no_decoder(*args, **kwargs):
        calls.append("decoder")
        raise AssertionError("a pixel decoder was created during the upload request")

    monkeypatch.setattr(PILImage.Image, "load", forbidden)
    monkeypatch.setattr(ImageFile.ImageFile, "load", forbidden)
    monkeypatch.setattr(AvifImagePlugin.AvifImageFile, "load", forbidden)
    monkeypatch.setattr(pillow_heif.as_plugin._LibHeifImageFile, "load", forbidden)
    monkeypatch.setattr(PILImage, "_getdecoder", no_decoder)
    return calls


def test_the_upload_view_never_decodes_pixels(owner_client, pillow_images, photos, no_pixel_decoding):
    files = sorted(p for p in [*pillow_images.iterdir(), *photos.iterdir()] if p.name != "LICENSE")
    accepted = 0
    for path in files:
        response = post_upload(owner_client, path)
        if path.name in REFUSED_AT_UPLOAD:
            assert response.status_code == 400, path.name
        else:
            # Damaged and truncated files pass: only decoding can tell, and that is the worker's job.
            assert response.status_code == 202, (path.name, response.content)
            accepted += 1
    assert no_pixel_decoding == []
    assert Image.objects.count() == accepted == len(files) - len(REFUSED_AT_UPLOAD)


def test_the_decompression_bomb_is_a_form_error(owner_client, pillow_images):
    response = post_upload(owner_client, pillow_images / "decompression_bomb.gif")
    assert response.status_code == 400
    [message] = response.json()["errors"]["image"]
    assert message == (
        "decompression_bomb.gif: This picture has too many pixels to process safely "
        "(4,365 megapixels; the limit is 50 megapixels)."
    )
    assert not Image.objects.exists()


def test_the_pixel_limit_is_a_setting(owner_client, photos, settings):
    settings.MEDIA_MAX_PIXELS = 1_000_000  # the photos have 2.16 megapixels
    response = post_upload(owner_client, photos / "Landscape_0.jpg")
    assert response.status_code == 400
    assert "the limit is 1 megapixels" in response.json()["errors"]["image"][0]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("holiday.jpg", b"MZ\x90\x00 this is a Windows program, not a photo" * 20),
        ("notes.jpg", b"plain text renamed to .jpg\n" * 50),
        ("drawing.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"),
        (
            "layers.psd",
            b"8BPS\x00\x01" + b"\x00" * 6 + b"\x00\x03\x00\x00\x00\x10\x00\x00\x00\x10\x00\x08\x00\x03",
        ),
        ("doc.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'),
    ],
)
def test_files_that_are_not_accepted_pictures_are_refused_whatever_their_name(owner_client, name, content):
    response = post_upload(owner_client, SimpleUploadedFile(name, content, content_type="image/jpeg"))
    assert response.status_code == 400
    [message] = response.json()["errors"]["image"]
    assert message.startswith(f"{name}: This file is not a picture we can read. We accept JPEG, PNG")
    assert not Image.objects.exists()


def test_an_empty_file_is_a_form_error(owner_client):
    response = post_upload(owner_client, SimpleUploadedFile("empty.jpg", b"", content_type="image/jpeg"))
    assert response.status_code == 400
    assert response.json() == {"errors": {"image": ["empty.jpg: the file is empty."]}}


def test_no_file_is_a_form_error(owner_client):
    response = owner_client.post("/media/upload/", {"title": "x"}, **JSON)
    assert response.status_code == 400
    assert response.json() == {"errors": {"image": ["Choose a picture to upload."]}}


def test_an_oversize_file_is_refused_without_being_written_in_full(
    owner_client, photos, settings, monkeypatch
):
    settings.MEDIA_MAX_UPLOAD_BYTES = 200_000
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10_000  # so the rest would go to a temporary file
    written: dict[str, int] = {}
    real = TemporaryFileUploadHandler.receive_data_chunk

    def spy(self, raw_data, start):
        written[self.file_name] = start + len(raw_data)
        return real(self, raw_data, start)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", spy)
    # 350 KB and 250 KB
    response = post_upload(owner_client, [photos / "Landscape_0.jpg", photos / "Portrait_0.jpg"])
    assert response.status_code == 400
    assert response.json()["errors"]["image"] == [
        "Landscape_0.jpg: this file is larger than the 195.3 KB limit.",
        "Portrait_0.jpg: this file is larger than the 195.3 KB limit.",
    ]
    # Each file was dropped once past the limit: no more than the limit reached the temporary file.
    assert set(written) == {"Landscape_0.jpg", "Portrait_0.jpg"}
    assert all(0 < n <= 200_000 for n in written.values()), written
    assert not Image.objects.exists()


def test_browser_gets_the_form_again_with_errors(owner_client, pillow_images):
    response = post_upload(owner_client, pillow_images / "broken.png", accept=HTML)
    assert response.status_code == 400
    html = response.content.decode()
    assert "broken.png: This file is not a picture we can read." in html
    assert 'type="file"' in html and "multiple" in html


def test_the_form_page(owner_client):
    response = owner_client.get("/media/upload/", **HTML)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html and 'name="image"' in html
    assert "multiple" in html and 'accept="image/*,.heic,.heif,.avif"' in html
    assert "csrfmiddlewaretoken" in html


def test_csrf_is_still_checked(user, photos):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    response = post_upload(strict, photos / "Landscape_0.jpg")
    assert response.status_code == 403
    assert not Image.objects.exists()


def test_titles_come_from_a_cleaned_file_name_and_storage_names_are_random(owner_client, photos, user):
    evil = as_upload(photos / "Landscape_0.jpg", name="..\\..\\etc\\pass\x07wd\u202e.jpg")
    response = post_upload(owner_client, evil)
    assert response.status_code == 202
    image = Image.objects.get()
    assert image.title == "passwd"
    assert image.original.name.startswith(f"media/originals/{user.pk}/")
    assert image.original.name.endswith(".jpg") and "passwd" not in image.original.name
    long_title = post_upload(owner_client, as_upload(photos / "Landscape_0.jpg", name="x" * 300 + ".jpg"))
    assert long_title.status_code == 202
    assert Image.objects.get(pk=long_title.json()["image_id"]).title == "x" * 200


def test_the_extension_comes_from_the_content_not_the_name(owner_client, pillow_images):
    png_named_jpg = as_upload(pillow_images / "hopper.png", name="photo.jpg")
    response = post_upload(owner_client, png_named_jpg)
    image = Image.objects.get(pk=response.json()["image_id"])
    assert image.original_format == "PNG" and image.original.name.endswith(".png")


def test_upright_size_is_known_at_upload(owner_client, photos):
    response = post_upload(owner_client, photos / "Portrait_6.jpg")
    image = Image.objects.get(pk=response.json()["image_id"])
    assert (image.original_width, image.original_height) == (1200, 1800)
