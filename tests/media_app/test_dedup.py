"""The same bytes uploaded again (issue 15, item 5), through the real views, a real worker and a
real Redis: reused for the same owner with no worker run, never linked across owners, and no file
deleted while another row still uses it."""

from __future__ import annotations

import pytest

from config.core.models import Job
from media_app import services
from media_app.models import Image, Rendition
from tests.helpers import HTML, JSON, post_upload, stored_files

pytestmark = pytest.mark.django_db(transaction=True)


def ready(client, path, wait_job) -> dict:
    response = post_upload(client, path)
    assert response.status_code == 202, response.content
    body = response.json()
    assert wait_job(body["task_id"]).state == "SUCCESS"
    return body


def files_of(image_pk: int) -> set[str]:
    image = Image.objects.get(pk=image_pk)
    return {image.original.name, *Rendition.objects.filter(image=image).values_list("file", flat=True)}


def everything_stored() -> list[str]:
    return stored_files("media")


def test_the_same_bytes_again_reuse_the_first_upload_and_run_no_worker(
    celery_worker, owner_client, user, photos, wait_job
):
    first = ready(owner_client, photos / "Landscape_2.jpg", wait_job)
    assert first["reused"] is False
    jobs, files = Job.objects.count(), everything_stored()

    response = post_upload(owner_client, photos / "Landscape_2.jpg", title="Again")
    assert response.status_code == 202
    again = response.json()
    # Answered at once with the first upload's finished job: nothing was queued, nothing stored.
    assert again["reused"] is True and again["images"][0]["reused"] is True
    assert again["task_id"] == first["task_id"] and again["image_id"] != first["image_id"]
    assert Job.objects.count() == jobs
    assert everything_stored() == files
    status = owner_client.get(again["status_url"]).json()
    assert status["state"] == "SUCCESS" and status["poll_after_ms"] is None

    copy = owner_client.get(f"/media/{again['image_id']}/", **JSON).json()
    original = owner_client.get(f"/media/{first['image_id']}/", **JSON).json()
    assert copy["state"] == "READY" and copy["title"] == "Again"
    assert copy["placeholder"] == original["placeholder"] and copy["widths"] == original["widths"]
    assert {(r["name"], r["format"], r["bytes"]) for r in copy["renditions"]} == {
        (r["name"], r["format"], r["bytes"]) for r in original["renditions"]
    }
    assert files_of(again["image_id"]) == files_of(first["image_id"])  # the same stored files
    for r in copy["renditions"]:
        served = owner_client.get(r["url"])
        assert served.status_code == 200 and len(b"".join(served.streaming_content)) == r["bytes"]
    # Ready as answered: its batch is settled, with no notification to send (no email job).
    from media_app.models import UploadBatch
    from notifications.models import Notification

    assert UploadBatch.objects.get(pk=again["batch_id"]).notified_at is not None
    assert not Notification.objects.filter(recipient=user, link=f"/media/?batch={again['batch_id']}").exists()
    assert Job.objects.count() == jobs


def test_a_browser_upload_of_the_same_bytes_lands_on_a_ready_page(
    celery_worker, owner_client, photos, wait_job
):
    ready(owner_client, photos / "Portrait_4.jpg", wait_job)
    jobs = Job.objects.count()
    response = post_upload(owner_client, photos / "Portrait_4.jpg", accept=HTML)
    assert response.status_code == 303
    page = owner_client.get(response["Location"], **HTML).content.decode()
    assert "You uploaded this picture before: it is ready." in page and "% smaller" in page
    assert Job.objects.count() == jobs


def test_another_owners_identical_upload_is_never_linked(
    celery_worker, owner_client, other_client, user, other_user, photos, wait_job
):
    mine = ready(owner_client, photos / "Landscape_7.jpg", wait_job)
    jobs = Job.objects.count()
    response = post_upload(other_client, photos / "Landscape_7.jpg")
    theirs = response.json()
    # Processed from scratch, as any first upload: its own job, its own files.
    assert theirs["reused"] is False and theirs["task_id"] != mine["task_id"]
    assert Job.objects.count() == jobs + 1
    assert wait_job(theirs["task_id"]).state == "SUCCESS"
    their_files = files_of(theirs["image_id"])
    assert not their_files & files_of(mine["image_id"])
    prefixes = (f"media/originals/{other_user.pk}/", f"media/renditions/{other_user.pk}/")
    assert all(name.startswith(prefixes) for name in their_files), their_files
    # And neither sees the other's image.
    assert other_client.get(f"/media/{mine['image_id']}/", **JSON).status_code == 404
    assert owner_client.get(f"/media/{theirs['image_id']}/", **JSON).status_code == 404
    # Their second upload reuses their own first one, not mine.
    again = post_upload(other_client, photos / "Landscape_7.jpg").json()
    assert again["reused"] is True and again["task_id"] == theirs["task_id"]
    assert files_of(again["image_id"]) == their_files


@pytest.mark.parametrize("delete_first", ["the copy", "the original"])
def test_deleting_one_copy_never_deletes_files_the_other_uses(
    celery_worker, owner_client, user, photos, wait_job, settings, delete_first
):
    settings.MEDIA_DELETE_GRACE_SECONDS = 0  # the purge takes a deleted image at once
    first = ready(owner_client, photos / "Landscape_8.jpg", wait_job)
    again = post_upload(owner_client, photos / "Landscape_8.jpg").json()
    assert again["reused"] is True
    shared = files_of(first["image_id"])
    gone, kept = (again, first) if delete_first == "the copy" else (first, again)

    assert owner_client.post(f"/media/{gone['image_id']}/delete/", **JSON).status_code == 204
    purged = services.images_purge_deleted()
    assert purged["images"] == 1 and purged["files"] == 0  # every file is still in use
    assert not Image.objects.filter(pk=gone["image_id"]).exists()
    assert all(stored_files(name) for name in shared)
    detail = owner_client.get(f"/media/{kept['image_id']}/", **JSON).json()
    for r in detail["renditions"]:
        assert owner_client.get(r["url"]).status_code == 200
    assert owner_client.get(detail["original"]["url"]).status_code == 200

    # The last one goes: then so does every file, and nothing is left behind.
    assert owner_client.post(f"/media/{kept['image_id']}/delete/", **JSON).status_code == 204
    purged = services.images_purge_deleted()
    assert purged["images"] == 1 and purged["files"] == len(shared)
    assert [name for name in shared if stored_files(name)] == []
    assert stored_files(f"media/originals/{user.pk}") == []
    assert stored_files(f"media/renditions/{user.pk}") == []


def test_a_recut_square_on_one_copy_leaves_the_others_squares(celery_worker, owner_client, photos, wait_job):
    first = ready(owner_client, photos / "Landscape_4.jpg", wait_job)
    again = post_upload(owner_client, photos / "Landscape_4.jpg").json()
    before = files_of(first["image_id"])
    moved = owner_client.post(f"/media/{again['image_id']}/focus/", {"x": "0.1", "y": "0.5"}, **JSON).json()
    assert wait_job(moved["task_id"]).state == "SUCCESS"
    assert files_of(first["image_id"]) == before and all(stored_files(n) for n in before)
    squares = set(
        Rendition.objects.filter(image_id=again["image_id"], name="square").values_list("file", flat=True)
    )
    assert len(squares) == 3 and not squares & before
    assert Image.objects.get(pk=first["image_id"]).focal_x == 0.5  # the first copy's point did not move


def test_each_files_hash_is_taken_while_the_body_is_read(owner_client, user, photos, settings):
    """The duplicate check's SHA-256 comes from the upload handler (media_app.uploads), one per kept
    file in the order they came: the rows hold each file's own hash, whether it was spooled to a
    temporary file (over FILE_UPLOAD_MAX_MEMORY_SIZE) or kept in memory."""
    import hashlib

    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 200_000  # the larger photos go to temporary files
    paths = [photos / "Landscape_1.jpg", photos / "Portrait_3.jpg", photos / "Landscape_4.jpg"]
    response = post_upload(owner_client, paths)
    assert response.status_code == 202, response.content
    ids = [i["image_id"] for i in response.json()["images"]]
    got = dict(Image.objects.filter(pk__in=ids).values_list("pk", "content_sha256"))
    assert [got[i] for i in ids] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
    assert any(p.stat().st_size > 200_000 for p in paths)


def test_the_handler_keeps_one_hash_per_kept_file_in_order():
    """A file dropped for its size gets no hash, so the others stay in step with their files."""
    import hashlib

    from django.core.files.uploadhandler import SkipFile

    from media_app.uploads import SizeLimitUploadHandler

    handler = SizeLimitUploadHandler(limit=10)
    for name, data in [("a.jpg", b"12345"), ("big.jpg", b"0123456789ABC"), ("b.jpg", b"xyz")]:
        handler.new_file("image", name, "image/jpeg", len(data))
        try:
            handler.receive_data_chunk(data[:4], 0)
            handler.receive_data_chunk(data[4:], 4)
        except SkipFile:
            continue
        handler.file_complete(len(data))
    assert handler.oversize == ["big.jpg"]
    assert handler.digests == {
        "image": [hashlib.sha256(b"12345").hexdigest(), hashlib.sha256(b"xyz").hexdigest()]
    }
