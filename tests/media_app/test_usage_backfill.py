"""An install upgraded from before quotas counts what people already keep (media_app 0006): given
pictures stored by the release before quotas, when the upgrade migrates, then each person's usage
is the bytes of the originals they keep, and the quota holds from there."""

from __future__ import annotations

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from config.accounts import quotas
from config.accounts.models import Allowance
from media_app.models import Image

pytestmark = pytest.mark.django_db(transaction=True)

BACKFILL = ("media_app", "0006_usage_backfill")


def migrate(targets: list[tuple[str, str]]):
    """Migrate the test database to ``targets``; the historical apps there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


def migrate_to_the_end() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def before():
    """Back to a release before this migration, and forward again whatever the test did."""
    yield migrate
    migrate_to_the_end()


def images(apps, owner_id: int, *sizes: int, deleted: bool = False) -> None:
    from django.utils import timezone

    Image = apps.get_model("media_app", "Image")
    for n, size in enumerate(sizes):
        Image.objects.create(
            owner_id=owner_id,
            original=f"media/originals/{owner_id}/{n}-{size}-{deleted}.jpg",
            original_format="JPEG",
            original_bytes=size,
            deleted_at=timezone.now() if deleted else None,
        )


def test_an_upgrade_from_before_quotas_counts_the_pictures_people_keep(before, make_user, settings):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    old = before([("accounts", "0002_profile"), ("media_app", "0005_image_content_sha256")])
    images(old, alice.pk, 1_000, 2_500)
    images(old, alice.pk, 40_000, deleted=True)  # in the bin: already freed, as a delete frees it
    images(old, bob.pk, 7)

    migrate_to_the_end()

    used = dict(Allowance.objects.values_list("user_id", "bytes_used"))
    assert used == {alice.pk: 3_500, bob.pk: 7}
    assert quotas.usage(user_id=carol.pk).used == 0
    settings.ACCOUNTS_STORAGE_QUOTA_BYTES = 4_000
    quotas.storage_check(user_id=alice.pk, nbytes=500)
    with pytest.raises(quotas.QuotaExceeded) as over:
        quotas.storage_charge(user_id=alice.pk, nbytes=501)
    assert (over.value.used, over.value.allowed) == (3_500, 4_000)


def test_counters_started_after_the_pictures_are_corrected_and_overrides_kept(before, make_user):
    """An install that ran the quota release already: its counters began at zero, after the
    pictures were stored. The backfill sets them to what is kept; a staff override stays."""
    alice, bob = make_user("alice"), make_user("bob")
    old = before([("accounts", "0003_allowance"), ("media_app", "0005_image_content_sha256")])
    images(old, alice.pk, 1_000, 2_000)
    images(old, bob.pk, 10)
    OldAllowance = old.get_model("accounts", "Allowance")
    OldAllowance.objects.create(user_id=alice.pk, bytes_used=2_000, quota_bytes=10_000)
    OldAllowance.objects.create(user_id=bob.pk, bytes_used=999)  # more than he keeps

    migrate_to_the_end()

    rows = {a.user_id: (a.bytes_used, a.quota_bytes) for a in Allowance.objects.all()}
    assert rows == {alice.pk: (3_000, 10_000), bob.pk: (10, None)}


def test_usage_recount_counts_uploads_an_old_web_stored_after_the_upgrade(make_user):
    """The release before quotas keeps taking uploads until its web stops, and never charges them:
    `manage.py usage_recount`, run once it is gone, counts them like the upgrade did."""
    alice = make_user("alice")
    quotas.storage_charge(user_id=alice.pk, nbytes=100)
    Image.objects.create(
        owner=alice, original="media/originals/a.jpg", original_format="JPEG", original_bytes=100
    )
    images(django_apps, alice.pk, 5_000, 6_000)  # as the old web wrote them: rows, no charge
    assert quotas.usage(user_id=alice.pk).used == 100

    call_command("usage_recount")
    assert quotas.usage(user_id=alice.pk).used == 11_100
    call_command("usage_recount")  # idempotent
    assert quotas.usage(user_id=alice.pk).used == 11_100
