"""Limits per person: uploads per minute (429 + Retry-After), a storage quota (413 saying how much
is used and allowed), counted exactly when uploads race, and freed when a picture is deleted."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import close_old_connections

from config.accounts import quotas, throttle
from config.accounts.models import Allowance
from config.core.humanize import human_bytes
from media_app import services
from media_app.forms import UploadForm
from media_app.models import Image
from tests.helpers import HTML, JSON, as_upload, post_upload, stored_files


@pytest.fixture
def photo(photos):
    return sorted(p for p in photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))[0]


@pytest.fixture(autouse=True)
def _fresh_window(user):
    # User ids repeat across tests (rolled back), the Redis window would not.
    cache.delete(throttle.Counter("upload-user", str(user.pk), 0, 60).key)
    yield
    cache.delete(throttle.Counter("upload-user", str(user.pk), 0, 60).key)


def originals_of(user) -> list[str]:
    return stored_files(f"media/originals/{user.pk}")


@pytest.mark.django_db
def test_over_the_upload_rate_answers_429_with_retry_after(owner_client, user, photo, settings):
    settings.ACCOUNTS_UPLOADS_PER_MINUTE = 2
    assert [post_upload(owner_client, photo).status_code for _ in range(2)] == [202, 202]
    response = post_upload(owner_client, photo)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "Too many uploads" in response.json()["error"]
    assert post_upload(owner_client, photo, accept=HTML).status_code == 429
    assert Image.objects.filter(owner=user).count() == 2


@pytest.mark.django_db
def test_a_per_user_override_of_the_rate_wins_over_the_setting(owner_client, user, photo, settings):
    settings.ACCOUNTS_UPLOADS_PER_MINUTE = 100
    Allowance.objects.create(user=user, uploads_per_minute=1)
    assert post_upload(owner_client, photo).status_code == 202
    assert post_upload(owner_client, photo).status_code == 429


@pytest.mark.django_db
def test_over_the_quota_answers_413_saying_what_is_used_and_allowed(owner_client, user, photo, settings):
    size = photo.stat().st_size
    settings.ACCOUNTS_STORAGE_QUOTA_BYTES = size * 2 - 1
    before = set(originals_of(user))  # user ids repeat across tests; their files stay on disk
    assert post_upload(owner_client, photo).status_code == 202
    assert quotas.usage(user_id=user.pk) == quotas.Usage(used=size, allowed=size * 2 - 1)

    response = post_upload(owner_client, photo)
    assert response.status_code == 413
    body = response.json()
    assert body["used_bytes"] == size and body["allowed_bytes"] == size * 2 - 1
    assert body["wanted_bytes"] == size and "Delete some pictures" in body["error"]
    page = post_upload(owner_client, photo, accept=HTML)
    assert page.status_code == 413 and b"Delete some pictures" in page.content
    assert Image.objects.filter(owner=user).count() == 1
    assert len(set(originals_of(user)) - before) == 1  # nothing of the refused uploads was kept

    # A per-user override in the admin makes room.
    Allowance.objects.filter(user=user).update(quota_bytes=size * 3)
    assert post_upload(owner_client, photo).status_code == 202


@pytest.mark.django_db
def test_a_deleted_picture_frees_its_bytes_and_undo_charges_them_again(owner_client, user, photo, settings):
    size = photo.stat().st_size
    settings.ACCOUNTS_STORAGE_QUOTA_BYTES = size
    image_id = post_upload(owner_client, photo).json()["image_id"]
    assert post_upload(owner_client, photo).status_code == 413

    assert owner_client.post(f"/media/{image_id}/delete/", **JSON).status_code == 204
    assert quotas.usage(user_id=user.pk).used == 0
    second = post_upload(owner_client, photo)
    assert second.status_code == 202

    # The undo no longer fits: refused, and the picture stays deleted.
    with pytest.raises(quotas.QuotaExceeded):
        services.image_restore(user=user, image_id=image_id)
    assert Image.objects.get(pk=image_id).deleted_at is not None
    Image.objects.get(pk=second.json()["image_id"]).delete()  # the admin's hard delete frees too
    assert quotas.usage(user_id=user.pk).used == 0
    assert services.image_restore(user=user, image_id=image_id) is True
    assert quotas.usage(user_id=user.pk).used == size


@pytest.mark.django_db
def test_the_settings_page_shows_the_usage(owner_client, user, photo, settings):
    settings.ACCOUNTS_STORAGE_QUOTA_BYTES = 10 * 1024 * 1024
    post_upload(owner_client, photo)
    page = owner_client.get("/notifications/preferences/", **HTML).content.decode()
    used = human_bytes(photo.stat().st_size)
    assert f"You use {used} of 10.0 MB" in page


@pytest.mark.django_db(transaction=True)
def test_two_uploads_racing_past_the_quota_do_not_both_land(user, photo, settings, monkeypatch):
    size = photo.stat().st_size
    settings.ACCOUNTS_STORAGE_QUOTA_BYTES = size * 2 - 1
    # Both pass the early look before either charges: only the charge can stop one of them.
    looked = threading.Barrier(2, timeout=20)
    real_check = quotas.storage_check

    def check_then_wait(**kwargs):
        real_check(**kwargs)
        looked.wait()

    monkeypatch.setattr(quotas, "storage_check", check_then_wait)
    before = set(originals_of(user))
    outcomes: list[str] = []

    def one_upload():
        try:
            form = UploadForm({}, {"image": [as_upload(photo)]})
            assert form.is_valid(), form.errors
            services.image_upload(owner=user, uploads=form.uploads())
            outcomes.append("landed")
        except quotas.QuotaExceeded:
            outcomes.append("refused")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=one_upload) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["landed", "refused"]
    assert Image.objects.filter(owner=user).count() == 1
    assert quotas.usage(user_id=user.pk).used == size
    kept = [n for n in set(originals_of(user)) - before if default_storage.exists(n)]
    assert kept == [Image.objects.get().original.name]  # the refused one's file was deleted
