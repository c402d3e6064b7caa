"""manage.py backup / restore: every row and file of the backup comes back, and the orphan sweep
right after the restore keeps every file a restored row uses."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from config.ops import services as ops_services
from media_app.models import Image

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
