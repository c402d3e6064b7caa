"""The whole test corpus (../shared/testdata/images) through the real views and a real worker,
each file ending as testdata/README.md says."""

from __future__ import annotations

import base64
import io

import pytest
from django.conf import settings
from PIL import Image as PILImage

from media_app import imaging, thumbhash
from media_app.models import Image, Rendition
from tests.helpers import JSON, post_upload, stored_files

pytestmark = pytest.mark.django_db(transaction=True)

PROCESSED = {
    "hopper.jpg",
    "hopper.png",
    "hopper.webp",
    "hopper.gif",
    "hopper.heif",
    "hopper.avif",
    "pil_sample_cmyk.jpg",
    "hopper_gray.jpg",
    "hopper_bad_exif.jpg",
    "exif-dpi-zerodivision.jpg",
    "exif_gps_typeerror.jpg",
    "flower.jpg",
    "mode_16bit.png",
    "tiff_16bit_RGBa_target.png",
    "iss634.gif",  # animated: its first frame
    "iss634.webp",
    "sugarshack.mpo",
    "decompression_bomb_extents.gif",  # README: processed or rejected; Pillow clips the frame
}
REFUSED_AT_UPLOAD = {
    "broken.png": imaging.MESSAGE_NOT_AN_IMAGE,
    "decompression_bomb.gif": "This picture has too many pixels to process safely",
}
FAILED_IN_WORKER = {
    "broken_data_stream.png": imaging.MESSAGE_DAMAGED,
    "crash-0c7e0e8e11ce787078f00b5b0ca409a167f070e0.tif": imaging.MESSAGE_DAMAGED,
    "truncated_image.png": imaging.MESSAGE_TRUNCATED,
    "truncated_jpeg.jpg": imaging.MESSAGE_TRUNCATED,
}
WITH_ALPHA = {"tiff_16bit_RGBa_target.png"}
WITH_ICC = {"tiff_16bit_RGBa_target.png"}


def corpus(testdata):
    photos = sorted((testdata / "images" / "photos").glob("*.jpg"))
    pillow = sorted(p for p in (testdata / "images" / "pillow").iterdir() if p.name != "LICENSE")
    return photos, pillow


def test_the_table_covers_every_file(testdata):
    photos, pillow = corpus(testdata)
    assert len(photos) == 18
    assert {p.name for p in pillow} == PROCESSED | set(REFUSED_AT_UPLOAD) | set(FAILED_IN_WORKER)


def read(rendition: Rendition) -> PILImage.Image:
    with rendition.file.open("rb") as fh:
        data = fh.read()
    assert len(data) == rendition.bytes
    im = PILImage.open(io.BytesIO(data))
    im.load()  # decodes completely
    return im


def test_every_corpus_file_ends_as_the_readme_says(celery_worker, owner_client, user, testdata, wait_job):  # noqa: C901 - one table-driven check per corpus file
    photos, pillow = corpus(testdata)
    jobs = {}
    for path in [*photos, *pillow]:
        response = post_upload(owner_client, path)
        if path.name in REFUSED_AT_UPLOAD:
            assert response.status_code == 400, path.name
            [message] = response.json()["errors"]["image"]
            assert message.startswith(f"{path.name}: {REFUSED_AT_UPLOAD[path.name]}"), message
            continue
        assert response.status_code == 202, (path.name, response.content)
        jobs[path.name] = response.json()
    assert Image.objects.filter(owner=user).count() == len(jobs)

    sizes = {**settings.MEDIA_RENDITION_SIZES, "square": settings.MEDIA_SQUARE_SIZE}
    for name, body in jobs.items():
        job = wait_job(body["task_id"], timeout=120)
        image = Image.objects.get(pk=body["image_id"])
        detail = owner_client.get(f"/media/{image.pk}/", **JSON).json()
        if name in FAILED_IN_WORKER:
            assert job.state == "FAILURE" and job.attempts == 1, name  # permanent: never retried
            assert job.error == FAILED_IN_WORKER[name], (name, job.error)
            assert image.state == "FAILED" and image.error == job.error, name
            assert detail["state"] == "FAILED" and detail["error"] == job.error
            assert not image.renditions.exists(), name
            assert stored_files(f"media/renditions/{user.pk}/{image.pk}") == [], name
            continue

        assert job.state == "SUCCESS", (name, job.error)
        assert image.state == "READY" and detail["state"] == "READY", name
        renditions = list(image.renditions.all())
        fallback = "PNG" if name in WITH_ALPHA else "JPEG"
        # Every size in the fallback and WebP; AVIF for every file whose longest side is within
        # MEDIA_AVIF_MAX_SIDE (the corpus's photos are 1800 px, so their "large" has none).
        assert {(r.name, r.format) for r in renditions if r.format != "AVIF"} == {
            (n, f) for n in sizes for f in (fallback, "WEBP")
        }, name
        assert {r.name for r in renditions if r.format == "AVIF"} == {
            r.name for r in renditions if max(r.width, r.height) <= settings.MEDIA_AVIF_MAX_SIDE
        }, name
        assert {r.name for r in renditions if r.format == "AVIF"} >= {"thumb", "square"}, name
        # The placeholder decodes, to the picture's shape.
        w, h, _ = thumbhash.decode(base64.b64decode(image.placeholder))
        if image.original_width != image.original_height:
            assert (w > h) == (image.original_width > image.original_height), name
        assert sorted(r.file.name for r in renditions) == stored_files(
            f"media/renditions/{user.pk}/{image.pk}"
        )
        for r in renditions:
            im = read(r)
            where = (name, r.name, r.format)
            assert im.format == r.format and im.size == (r.width, r.height), where
            assert max(im.size) <= sizes[r.name], where
            if r.name == "square":
                assert (
                    im.width == im.height == min(sizes["square"], image.original_width, image.original_height)
                )
            assert im.width <= image.original_width and im.height <= image.original_height, where
            exif = im.getexif()
            assert 0x0112 not in exif and 0x8825 not in exif and len(exif) == 0, where
            assert "exif" not in im.info and "xmp" not in im.info, where
            if name in WITH_ALPHA:
                assert im.mode == "RGBA" and im.getchannel("A").getextrema()[0] < 255, where
            else:
                assert im.mode in ("RGB", "L"), where
            if name == "pil_sample_cmyk.jpg":
                assert im.mode == "RGB", where
            if name in WITH_ICC:
                assert im.info.get("icc_profile"), where
            if name.startswith(("Landscape", "Portrait")) and r.name != "square":
                # Upright whatever the EXIF Orientation was.
                assert (im.width > im.height) == name.startswith("Landscape"), where
        if name.startswith("Landscape"):
            assert (image.original_width, image.original_height) == (1800, 1200)
        if name.startswith("Portrait"):
            assert (image.original_width, image.original_height) == (1200, 1800)
        assert image.bytes_in == image.original_bytes and image.bytes_out and image.processing_ms is not None

    # Through all of that the worker never died.
    assert celery_worker.proc.poll() is None
