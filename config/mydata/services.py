"""Every write of "my data": a person's archive (built on the reports worker) and the erasure of
their account (a job that removes every row and every stored file of theirs)."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.models import Session
from django.core import signing
from django.core.files import File
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.core.errors import TransientError
from config.core.services import job_create
from config.core.storage import STORAGE_ERRORS, is_missing
from config.ops.files import delete_file

from .models import Archive
from .registry import Holding, registry

logger = logging.getLogger(__name__)

ARCHIVE_TASK = "mydata.build_archive"
ERASE_TASK = "mydata.erase_account"
DOWNLOAD_SALT = "mydata.archive.download"


def archive_storage():
    return Archive._meta.get_field("file").storage


# --- the archive --------------------------------------------------------------------------------


def archive_request(*, user: AbstractBaseUser) -> Archive:
    with transaction.atomic():
        archive = Archive.objects.create(owner=user)
        archive.job = job_create(owner=user, kind="mydata.archive", task_name=ARCHIVE_TASK, args=[archive.pk])
        archive.save(update_fields=["job"])
    return archive


def archive_build(*, archive_id: int, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Collect what every app holds about the owner into one zip and store it. Idempotent: the
    archive's storage name is fixed, so a second delivery replaces the file."""
    archive = Archive.objects.select_related("owner").filter(pk=archive_id).first()
    if archive is None or archive.state == Archive.State.SUCCESS:
        return {"archive_id": archive_id, "skipped": True}
    holdings: list[Holding] = []
    for _name, fn in registry.all_holdings():
        holdings.extend(fn(archive.owner))
    storage = archive_storage()
    fd, path = tempfile.mkstemp(suffix=".zip", dir=_temp_dir())
    os.close(fd)
    try:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for done, holding in enumerate(holdings, start=1):
                if holding.data is not None:
                    zf.writestr(holding.path, holding.data)
                else:
                    try:
                        with (
                            holding.storage.open(holding.name, "rb") as fh,
                            zf.open(holding.path, "w") as out,
                        ):
                            while chunk := fh.read(1024 * 1024):
                                out.write(chunk)
                    except STORAGE_ERRORS as exc:
                        if is_missing(exc):
                            zf.writestr(
                                holding.path + ".missing", b"This file was missing from our storage.\n"
                            )
                        else:
                            raise TransientError(f"reading {holding.name}: {exc}") from exc
                if progress:
                    progress(done, len(holdings) + 1)
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            # A second delivery replaces the first one's file under the same name.
            delete_file(storage, archive.storage_name, measure=False)
            saved = storage.save(archive.storage_name, File(fh))
    finally:
        os.unlink(path)
    Archive.objects.filter(pk=archive.pk).update(
        state=Archive.State.SUCCESS,
        file=saved,
        bytes=size,
        entries=len(holdings),
        expires_at=timezone.now() + timedelta(seconds=settings.MYDATA_ARCHIVE_KEEP_SECONDS),
    )
    if progress:
        progress(len(holdings) + 1, len(holdings) + 1)
    return {"archive_id": archive.pk, "entries": len(holdings), "bytes": size}


def _temp_dir() -> str:
    folder = settings.REPORTS_TEMP_DIR
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return str(folder)


def archive_fail(*, archive_id: int, message: str) -> None:
    Archive.objects.filter(pk=archive_id).exclude(state=Archive.State.SUCCESS).update(
        state=Archive.State.FAILURE, error=message[:500]
    )


def archives_delete_expired(*, batch_size: int = 1000) -> dict[str, int]:
    done = {"rows": 0, "files": 0, "bytes": 0}
    storage = archive_storage()
    for archive in Archive.objects.filter(expires_at__lt=timezone.now())[:batch_size]:
        if archive.file.name:
            done["bytes"] += delete_file(storage, archive.file.name)
            done["files"] += 1
        archive.delete()
        done["rows"] += 1
    return done


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=DOWNLOAD_SALT)


def archive_download_url(*, archive: Archive) -> str:
    token = _signer().sign_object({"a": archive.pk, "u": archive.owner_id})
    return reverse("mydata:download", args=[archive.pk, token])


def archive_download_ok(*, archive: Archive, token: str) -> bool:
    try:
        payload = _signer().unsign_object(token, max_age=settings.REPORTS_LINK_MAX_AGE)
    except (signing.BadSignature, ValueError, UnicodeDecodeError):
        return False
    return payload == {"a": archive.pk, "u": archive.owner_id}


# --- erasing an account -------------------------------------------------------------------------


def account_delete_request(*, user: AbstractBaseUser) -> None:
    """End the account now and queue the erasure of everything of theirs.

    Now: the account can no longer log in and every session of theirs ends (inactive, unusable
    password: Django's session check fails on each), their schedules stop. The job removes the
    files, then the rows. Its job row has no owner, so it outlives the person it erases.
    """
    with transaction.atomic():
        User = get_user_model()
        User.objects.filter(pk=user.pk).update(is_active=False, password="!" + "x" * 39)
        schedules_stop(user_id=user.pk)
        job_create(owner=None, kind="mydata.erase", task_name=ERASE_TASK, args=[user.pk])


def _owned_schedules(user_id: int):
    # A schedule is a person's when its keyword arguments name them: {"owner_id": <id>, …}.
    pattern = rf'"owner_id"\s*:\s*{int(user_id)}\s*[,}}]'
    return PeriodicTask.objects.filter(kwargs__regex=pattern)


def schedules_stop(*, user_id: int) -> int:
    return _owned_schedules(user_id).update(enabled=False)


def account_erase(*, user_id: int) -> dict[str, int]:
    """Remove every stored file and every row of a person (the erase job). Idempotent: a second
    run finds nothing. Files are listed first, the rows go (cascading), then the files."""
    User = get_user_model()
    files: list[tuple[Any, str]] = []
    for _name, fn in registry.all_files():
        files.extend((storage, name) for storage, name in fn(user_id) if name)
    with transaction.atomic():
        _owned_schedules(user_id).delete()
        _, per_model = User.objects.filter(pk=user_id).delete()
    freed = 0
    for storage, name in dict.fromkeys(files):
        freed += delete_file(storage, name)
    sessions = sessions_end(user_id=user_id)
    return {"rows": sum(per_model.values()), "files": len(set(files)), "bytes": freed, "sessions": sessions}


def sessions_end(*, user_id: int, batch_size: int = 1000) -> int:
    """Delete the stored sessions of one user (they are dead already; this frees the rows)."""
    ended = 0
    wanted = str(user_id)
    for session in Session.objects.iterator(chunk_size=batch_size):
        try:
            if session.get_decoded().get("_auth_user_id") == wanted:
                session.delete()
                ended += 1
        except Exception:  # noqa: S112 - a session we cannot decode is no one's
            continue
    return ended


def _json(data: Any) -> bytes:
    return json.dumps(data, indent=2, default=str).encode()


def json_holding(path: str, data: Any) -> Holding:
    return Holding(path=path, data=_json(data))
