"""manage.py backup / restore on S3 storage (moto's server mode, as in tests/storage/test_s3.py): every
object comes back, and the orphan sweep right after the restore keeps every object a restored row
names. A module of its own: the S3 settings last as long as the module does."""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command

from config.ops import services as ops_services
from tests.core.test_backup import an_image, stored
from tests.storage import test_s3

pytestmark = pytest.mark.django_db(transaction=True)

# The bucket and this process's S3 settings: test_s3's fixtures, shared.
s3, s3_settings = test_s3.s3, test_s3.s3_settings


def test_every_object_comes_back_and_the_sweep_keeps_what_restored_rows_name(s3, s3_settings, user, tmp_path):
    """The same through the S3 API (moto's server): objects are listed, read and written back by
    the storage API. S3 keeps no age of ours to fake, so the sweep runs with no grace at all."""
    kept = an_image(user, b"kept" * 100)
    doomed = an_image(user, b"doomed" * 100)
    names = {kept.original.name, doomed.original.name}
    assert set(s3.keys(f"media/originals/{user.pk}/")) == names
    call_command("backup", str(tmp_path / "b"))

    doomed.delete()
    since = stored(f"media/originals/{user.pk}/after-the-backup.jpg", b"newer")
    assert set(s3.keys(f"media/originals/{user.pk}/")) == {kept.original.name, since}

    call_command("restore", str(tmp_path / "b"))
    assert set(s3.keys(f"media/originals/{user.pk}/")) == names | {since}
    time.sleep(1.1)  # S3 times have one-second resolution: every object must be older than the cutoff
    ops_services.cleanup_run(orphan_grace_hours=0)

    assert set(s3.keys(f"media/originals/{user.pk}/")) == names
    body = s3.client().get_object(Bucket=s3.bucket, Key=doomed.original.name)["Body"].read()
    assert body == b"doomed" * 100
