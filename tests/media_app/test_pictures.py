"""Issue 15 on a real worker: every width, AVIF, the placeholder and the focal point, through the
real views and a real Redis."""

from __future__ import annotations

import base64
import io
import time
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage
from PIL import ImageDraw

from config.core.models import Job
from media_app import services, thumbhash
from media_app.models import Image, Rendition
from tests.helpers import HTML, JSON, post_upload, stored_files, wait_idle

pytestmark = pytest.mark.django_db(transaction=True)


def picture(size, *, fmt="JPEG", dot=None, noise=False) -> SimpleUploadedFile:
    """A blue (or noisy) picture, with a red disc at ``dot`` (fractions) when given."""
    im = PILImage.effect_noise(size, 50).convert("RGB") if noise else PILImage.new("RGB", size, (0, 0, 255))
    if dot is not None:
        cx, cy, r = dot[0] * size[0], dot[1] * size[1], 14
        ImageDraw.Draw(im).ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 0, 0))
    out = io.BytesIO()
    im.save(out, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    ext = {"JPEG": "jpg", "PNG": "png"}[fmt]
    return SimpleUploadedFile(f"made.{ext}", out.getvalue(), content_type=f"image/{ext}")


def uploaded(client, file, wait_job) -> int:
    response = post_upload(client, file)
    assert response.status_code == 202, response.content
    body = response.json()
    assert wait_job(body["task_id"]).state == "SUCCESS"
    return body["image_id"]


def served(client, url: str) -> PILImage.Image:
    response = client.get(url)
    assert response.status_code == 200, url
    im = PILImage.open(io.BytesIO(b"".join(response.streaming_content)))
    im.load()
    return im


def red_at(im: PILImage.Image) -> tuple[float, float] | None:
    box = PILImage.eval(im.convert("RGB").split()[0], lambda v: 255 if v > 160 else 0).getbbox()
    return None if box is None else ((box[0] + box[2]) / 2 / im.width, (box[1] + box[3]) / 2 / im.height)


def test_every_width_in_every_format_is_listed_and_served(celery_worker, owner_client, wait_job):
    pk = uploaded(owner_client, picture((3000, 2000), noise=True), wait_job)
    detail = owner_client.get(f"/media/{pk}/", **JSON).json()
    assert detail["widths"] == [256, 640, 1024, 2048]
    rows = {(r["name"], r["format"]): r for r in detail["renditions"]}
    ladder = {"thumb": 256, "small": 640, "medium": 1024, "large": 2048}
    for fmt in ("JPEG", "WEBP", "AVIF"):
        # AVIF up to MEDIA_AVIF_MAX_SIDE (1024): the 2048 one would cost more than WebP's.
        widths = {n: w for n, w in ladder.items() if fmt != "AVIF" or w <= 1024}
        expected = ", ".join(f"{rows[n, fmt]['url']} {w}w" for n, w in widths.items())
        assert detail["srcset"][fmt] == expected
        for name, width in widths.items():
            im = served(owner_client, rows[name, fmt]["url"])
            assert im.format == fmt and im.size == (width, round(width * 2 / 3)), (name, fmt)
    assert ("large", "AVIF") not in rows
    for fmt in ("JPEG", "WEBP", "AVIF"):
        assert served(owner_client, rows["square", fmt]["url"]).size == (512, 512)
    # The page: each <source> and the <img> carry a srcset over the widths, and sizes.
    html = owner_client.get(f"/media/{pk}/", **HTML).content.decode()
    assert f'<source type="image/avif" srcset="{detail["srcset"]["AVIF"]}" sizes="' in html
    assert f'<source type="image/webp" srcset="{detail["srcset"]["WEBP"]}" sizes="' in html
    assert f'srcset="{detail["srcset"]["JPEG"]}" sizes="' in html


def test_a_transparent_picture_keeps_png_as_its_fallback_and_gets_avif(
    celery_worker, owner_client, pillow_images, wait_job
):
    pk = uploaded(owner_client, pillow_images / "tiff_16bit_RGBa_target.png", wait_job)
    detail = owner_client.get(f"/media/{pk}/", **JSON).json()
    assert {r["format"] for r in detail["renditions"]} == {"PNG", "WEBP", "AVIF"}
    avif = [r for r in detail["renditions"] if r["format"] == "AVIF"]
    for r in avif:
        im = served(owner_client, r["url"])
        assert im.mode == "RGBA" and im.getchannel("A").getextrema()[0] < 255
    medium = next(r for r in detail["renditions"] if r["name"] == "medium" and r["format"] == "PNG")
    html = owner_client.get(f"/media/{pk}/", **HTML).content.decode()
    assert f'<img src="{medium["url"]}"' in html


@pytest.mark.parametrize(("name", "landscape"), [("Landscape_6.jpg", True), ("Portrait_5.jpg", False)])
def test_the_placeholder_is_in_the_payload_and_decodes_to_the_aspect(
    celery_worker, owner_client, photos, wait_job, name, landscape
):
    pending = post_upload(owner_client, photos / name).json()
    before = owner_client.get(f"/media/{pending['image_id']}/", **JSON).json()
    if before["state"] != "READY":
        assert before["placeholder"] is None  # the worker makes it
    wait_job(pending["task_id"])
    detail = owner_client.get(f"/media/{pending['image_id']}/", **JSON).json()
    hash_ = base64.b64decode(detail["placeholder"]["thumbhash"])
    width, height, rgba = thumbhash.decode(hash_)
    assert len(rgba) == width * height * 4
    aspect = 1.5 if landscape else 2 / 3
    assert abs(width / height - aspect) / aspect < 0.1, (width, height)
    # Pages carry it for media.js to draw: the tile and the large picture.
    gallery = owner_client.get("/media/", **HTML).content.decode()
    assert f'data-thumbhash="{detail["placeholder"]["thumbhash"]}"' in gallery
    page = owner_client.get(f"/media/{pending['image_id']}/", **HTML).content.decode()
    assert f'data-thumbhash="{detail["placeholder"]["thumbhash"]}"' in page


def square_files(image_pk: int) -> list[str]:
    return sorted(Rendition.objects.filter(image_id=image_pk, name="square").values_list("file", flat=True))


def test_moving_the_focal_point_recuts_the_squares_around_it(celery_worker, owner_client, user, wait_job):
    dot = (0.9, 0.2)
    pk = uploaded(owner_client, picture((1800, 1200), fmt="PNG", dot=dot), wait_job)
    detail = owner_client.get(f"/media/{pk}/", **JSON).json()
    assert detail["focal_point"] == {"x": 0.5, "y": 0.5}  # the default: the centre
    square = next(r for r in detail["renditions"] if r["name"] == "square" and r["format"] == "JPEG")
    assert red_at(served(owner_client, square["url"])) is None  # the centre square misses the dot
    before = square_files(pk)

    response = owner_client.post(f"/media/{pk}/focus/", {"x": "0.9", "y": "0.2"}, **JSON)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["focal_point"] == {"x": 0.9, "y": 0.2}
    assert wait_job(body["task_id"]).state == "SUCCESS"
    detail = owner_client.get(f"/media/{pk}/", **JSON).json()
    assert detail["focal_point"] == {"x": 0.9, "y": 0.2}
    squares = [r for r in detail["renditions"] if r["name"] == "square"]
    assert {r["format"] for r in squares} == {"JPEG", "WEBP", "AVIF"}
    # The square is now the right-hand 1200 x 1200 of the picture: the dot at 1620 - 600 = 1020.
    for r in squares:
        found = red_at(served(owner_client, r["url"]))
        assert found is not None, r["format"]
        assert abs(found[0] - 1020 / 1200) < 0.03 and abs(found[1] - 0.2) < 0.03, (r["format"], found)
    after = square_files(pk)
    assert len(after) == 3 and not set(before) & set(after)
    assert [f for f in before if stored_files(f)] == []  # the old squares' files are gone
    # Only the squares were cut again; the other renditions are the same rows.
    others = Rendition.objects.filter(image_id=pk).exclude(name="square").count()
    assert others == 11
    # The gallery tile shows the new square.
    new_jpeg = next(r["url"] for r in squares if r["format"] == "JPEG")
    assert f'src="{new_jpeg}"' in owner_client.get("/media/", **HTML).content.decode()

    # The same point again moves nothing: no job.
    again = owner_client.post(f"/media/{pk}/focus/", {"x": "0.9", "y": "0.2"}, **JSON)
    assert again.status_code == 200 and again.json()["task_id"] is None
    assert Job.objects.filter(kind=services.SQUARE_JOB_KIND).count() == 1


def test_a_focal_change_delivered_twice_leaves_one_set_of_squares(
    celery_worker, owner_client, user, wait_job
):
    from config.celery_app import app

    pk = uploaded(owner_client, picture((1600, 900), dot=(0.1, 0.5)), wait_job)
    body = owner_client.post(f"/media/{pk}/focus/", {"x": "0.1", "y": "0.5"}, **JSON).json()
    job = wait_job(body["task_id"])
    # Two more deliveries at once, as after a lost acknowledgement.
    Job.objects.filter(pk=job.pk).update(state="STARTED", finished_at=None)
    for _ in range(2):
        app.send_task("media_app.render_square", args=[pk], task_id=job.task_id)
    wait_job(job.task_id)
    wait_idle(celery_worker)
    rows = list(Rendition.objects.filter(image_id=pk, name="square"))
    assert sorted(r.format for r in rows) == ["AVIF", "JPEG", "WEBP"]
    on_disk = stored_files(f"media/renditions/{user.pk}/{pk}")
    assert sorted(Rendition.objects.filter(image_id=pk).values_list("file", flat=True)) == on_disk
    for r in rows:
        with r.file.open("rb") as fh:
            found = red_at(PILImage.open(fh))
        assert found is not None and found[0] < 0.3, (r.format, found)


def test_focal_point_input_is_checked(celery_worker, owner_client, other_client, user, wait_job, photos):
    pk = uploaded(owner_client, photos / "Landscape_1.jpg", wait_job)
    for data in ({"x": "1.5", "y": "0.5"}, {"x": "-0.1", "y": "0"}, {"x": "nan", "y": "0.5"}, {"x": "0.5"}):
        response = owner_client.post(f"/media/{pk}/focus/", data, **JSON)
        assert response.status_code == 400, data
        assert response.json()["errors"], data
        page = owner_client.post(f"/media/{pk}/focus/", data, **HTML)
        assert page.status_code == 400 and "Focal point" in page.content.decode()
    assert other_client.post(f"/media/{pk}/focus/", {"x": "0.2", "y": "0.2"}, **JSON).status_code == 404
    browser = owner_client.post(f"/media/{pk}/focus/", {"x": "0.2", "y": "0.3"}, **HTML)
    assert browser.status_code == 303 and browser["Location"] == f"/media/{pk}/"
    image = Image.objects.get(pk=pk)
    assert (image.focal_x, image.focal_y) == (0.2, 0.3)
    wait_job(Job.objects.get(kind=services.SQUARE_JOB_KIND).task_id)


def test_a_picture_still_processing_has_no_focal_point_yet(owner_client, user, photos, settings):
    from media_app import imaging
    from tests.helpers import as_upload

    f = as_upload(photos / "Landscape_2.jpg")
    probe = imaging.probe(f, max_pixels=settings.MEDIA_MAX_PIXELS)
    with mock.patch("config.core.services.job_send"):  # no worker: it stays PENDING
        [image] = services.image_upload(owner=user, uploads=[services.Upload(file=f, probe=probe, title="x")])
    response = owner_client.post(f"/media/{image.pk}/focus/", {"x": "0.2", "y": "0.2"}, **JSON)
    assert response.status_code == 409 and response.json()["error"] == services.MESSAGE_FOCUS_NOT_READY
    # While it is processing, its page offers the uploader's own preview (filled in by media.js).
    page = owner_client.get(f"/media/{image.pk}/", **HTML).content.decode()
    assert f'data-local-preview="{image.pk}"' in page


def test_recompressing_after_a_focal_move_keeps_the_moved_squares(
    celery_worker, owner_client, user, wait_job
):
    """The compression reads the focal point when it starts; a move during it queues a new cut."""
    pk = uploaded(owner_client, picture((1800, 1200), dot=(0.85, 0.5)), wait_job)
    image = Image.objects.get(pk=pk)
    # As if the owner moved the point while a re-run was compressing: the run read the centre.
    Image.objects.filter(pk=pk).update(focal_x=0.85, focal_y=0.5)
    services.image_compress(image=image)  # image still holds the centre it was loaded with
    cut = Job.objects.filter(kind=services.SQUARE_JOB_KIND).order_by("-pk").first()
    assert cut is not None, "no new cut was queued"
    assert wait_job(cut.task_id).state == "SUCCESS"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        [jpeg] = Rendition.objects.filter(image_id=pk, name="square", format="JPEG")
        with jpeg.file.open("rb") as fh:
            if red_at(PILImage.open(fh)) is not None:
                break
        time.sleep(0.2)
    else:
        raise AssertionError("the square does not follow the moved focal point")
