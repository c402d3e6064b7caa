"""manage.py backup / restore: every row and file of the backup comes back, and the orphan sweep
right after the restore keeps every file a restored row uses."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from config.mydata.models import Archive
from config.ops import services as ops_services
from media_app.models import Image, Rendition
from reports.models import Export

pytestmark = pytest.mark.django_db(transaction=True)


def an_image(user, data: bytes) -> Image:
    name = default_storage.save(f"media/originals/{user.pk}/backup-test.jpg", ContentFile(data))
    return Image.objects.create(owner=user, original=name, original_format="JPEG", original_bytes=len(data))


def test_backup_then_restore_brings_back_every_row_and_file(user, tmp_path):
    kept = an_image(user, b"kept" * 100)
    doomed = an_image(user, b"doomed" * 100)
    names = {kept.original.name, doomed.original.name}
    call_command("backup", str(tmp_path / "b"))

    doomed.delete()  # its file goes after commit
    Image.objects.filter(pk=kept.pk).update(title="changed")
    with default_storage.open(kept.original.name, "wb") as fh:
        fh.write(b"overwritten")
    assert not default_storage.exists(doomed.original.name)

    call_command("restore", str(tmp_path / "b"))
    assert set(Image.objects.filter(owner=user).values_list("original", flat=True)) == names
    assert Image.objects.get(pk=kept.pk).title == ""
    with default_storage.open(kept.original.name, "rb") as fh:
        assert fh.read() == b"kept" * 100
    with default_storage.open(doomed.original.name, "rb") as fh:
        assert fh.read() == b"doomed" * 100

    ops_services.cleanup_run(orphan_grace_hours=0)
    assert all(default_storage.exists(n) for n in names)


def stored(name: str, data: bytes) -> str:
    return default_storage.save(name, ContentFile(data))


def age(names, hours: float) -> None:
    """Make stored files look ``hours`` old (local disk), as if the sweep ran that much later."""
    when = time.time() - hours * 3600
    for name in names:
        os.utime(default_storage.path(name), (when, when))


def test_the_sweeps_after_a_restore_keep_every_file_a_restored_row_needs(user, other_user, tmp_path):
    """Not thanks to the grace period: every file is made older than it before the sweeps run, so
    only the check against the restored rows can keep them. A file stored after the backup, which
    no restored row names, goes: the sweep did run."""
    image = an_image(user, b"original" * 50)
    rendition = Rendition.objects.create(
        image=image,
        name=Rendition.Name.SQUARE,
        format=Rendition.Format.JPEG,
        file=stored(f"media/renditions/{user.pk}/{image.pk}/square.jpg", b"square" * 20),
        width=10,
        height=10,
        bytes=120,
    )
    in_the_bin = an_image(other_user, b"deleted but in the grace period" * 10)
    Image.objects.filter(pk=in_the_bin.pk).update(deleted_at=timezone.now())
    later = timezone.now() + timedelta(days=1)
    export = Export.objects.create(
        owner=user, kind="job_history", state=Export.State.SUCCESS, expires_at=later
    )
    Export.objects.filter(pk=export.pk).update(file=stored(export.storage_name, b"workbook"))
    archive = Archive.objects.create(owner=user, state=Archive.State.SUCCESS, expires_at=later)
    Archive.objects.filter(pk=archive.pk).update(file=stored(archive.storage_name, b"zip"))
    needed = {
        image.original.name: b"original" * 50,
        rendition.file.name: b"square" * 20,
        in_the_bin.original.name: b"deleted but in the grace period" * 10,
        export.storage_name: b"workbook",
        archive.storage_name: b"zip",
    }
    call_command("backup", str(tmp_path / "b"))

    # After the backup: the rows go (their files after commit), and a new upload is stored.
    image.delete()
    Export.objects.filter(pk=export.pk).delete()
    default_storage.delete(export.storage_name)
    since = stored(f"media/originals/{user.pk}/after-the-backup.jpg", b"newer")
    assert not any(default_storage.exists(n) for n in (image.original.name, rendition.file.name))

    call_command("restore", str(tmp_path / "b"))
    age([*needed, since], hours=48)
    done = ops_services.cleanup_run()  # the scheduled cleanup's own defaults (24 h of grace)

    for name, data in needed.items():
        with default_storage.open(name, "rb") as fh:
            assert fh.read() == data, name
    assert not default_storage.exists(since)
    assert done["orphans_deleted"] == 1
