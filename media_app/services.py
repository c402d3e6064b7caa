"""Every write of the media app: upload, compress, fail, re-run, delete, and the batch notification."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from config.accounts import quotas
from config.core.errors import HumanError, StorageUnavailable, TransientError
from config.core.models import Job
from config.core.services import job_create, rows_settle_behind_final_jobs
from config.core.storage import STORAGE_ERRORS
from config.core.storage import is_missing as _is_missing
from config.ops.files import delete_file
from notifications.services import notify

from . import imaging, selectors
from .models import STORAGE_PREFIX, Image, Rendition, UploadBatch

logger = logging.getLogger(__name__)

TASK_NAME = "media_app.compress_image"
JOB_KIND = "media.compress"
SQUARE_TASK_NAME = "media_app.render_square"
SQUARE_JOB_KIND = "media.square"
MESSAGE_FOCUS_NOT_READY = "This picture is still being processed: set its focal point once it is ready."
MESSAGE_ORIGINAL_MISSING = "The original file of this picture is missing. Please upload it again."
MESSAGE_STORAGE_DOWN = "We could not reach our file storage, so this picture was not processed."
MESSAGE_UNFINISHED = "Processing of this picture stopped unexpectedly. Please upload it again."
MESSAGE_CANCELLED = "Cancelled. Upload it again, or delete it."


def file_storage():
    """Where originals and renditions are stored (one storage for both)."""
    return Image._meta.get_field("original").storage


def rendition_specs() -> list[imaging.RenditionSpec]:
    ladder = [imaging.RenditionSpec(name, side) for name, side in settings.MEDIA_RENDITION_SIZES.items()]
    return [*ladder, square_spec()]


def square_spec() -> imaging.RenditionSpec:
    return imaging.RenditionSpec(Rendition.Name.SQUARE, settings.MEDIA_SQUARE_SIZE, square=True)


def encode_options() -> imaging.EncodeOptions:
    return imaging.EncodeOptions(
        jpeg_quality=settings.MEDIA_JPEG_QUALITY,
        webp_quality=settings.MEDIA_WEBP_QUALITY,
        webp_method=settings.MEDIA_WEBP_METHOD,
        avif_quality=settings.MEDIA_AVIF_QUALITY,
        avif_speed=settings.MEDIA_AVIF_SPEED,
        avif_max_side=settings.MEDIA_AVIF_MAX_SIDE,
    )


def _focal(image: Image) -> imaging.FocalPoint:
    return imaging.FocalPoint(image.focal_x, image.focal_y)


# --- upload -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """One checked file of an upload: its header was read (imaging.probe), nothing decoded."""

    file: UploadedFile
    probe: imaging.Probe
    title: str
    sha256: str = ""  # taken while the body was read (media_app.uploads); else hashed here


def image_upload(*, owner: AbstractBaseUser, uploads: list[Upload]) -> list[Image]:
    """Store the originals under random names, write the rows and their jobs; send on commit.

    Several files make one UploadBatch, whose owner is notified once when all are done. If the
    broker is down, BrokerUnavailable leaves this function after the rows are committed (the view
    answers 503; the re-dispatcher sends the jobs later).

    Bytes this owner uploaded before (same SHA-256) whose image is READY are not stored or
    processed again: the new image shares that image's original and renditions and its finished
    job (``image.reused`` is True), so no worker runs. Only the owner's own images are looked at;
    two rows may then name one stored file, and a file goes only when no row uses it
    (docs/deletion.md).
    """
    if not uploads:
        raise ValueError("nothing to upload")
    total = sum(upload.file.size for upload in uploads)
    # Before a byte is stored; the charge in the transaction below is the exact one.
    quotas.storage_check(user_id=owner.pk, nbytes=total)
    storage = file_storage()
    digests = [upload.sha256 or _digest(upload.file) for upload in uploads]
    sources = {d: selectors.image_same_bytes(owner_id=owner.pk, digest=d) for d in set(digests)}
    stored: list[str] = []
    names: list[str | None] = []
    try:
        for upload, digest in zip(uploads, digests, strict=True):
            names.append(None if sources[digest] else _store_original(storage, owner, upload))
            stored.extend(n for n in names[-1:] if n)
    except BaseException as exc:
        _delete_files(stored)
        if isinstance(exc, STORAGE_ERRORS):
            raise StorageUnavailable(f"storing an upload: {exc}") from exc
        raise

    images: list[Image] = []
    try:
        with transaction.atomic():
            # Every upload is a batch, one picture or many: its owner hears once when all are done.
            # First: a racing upload waits here on the usage row's lock, then sees this one's bytes.
            quotas.storage_charge(user_id=owner.pk, nbytes=total)
            batch = UploadBatch.objects.create(owner=owner)
            for upload, digest, name in zip(uploads, digests, names, strict=True):
                if name is None:
                    copy = _reuse(source_pk=sources[digest].pk, owner=owner, upload=upload, batch=batch)
                    if copy is not None:
                        images.append(copy)
                        continue
                    # That image went away meanwhile: store and process these bytes after all.
                    name = _store_original(storage, owner, upload)
                    stored.append(name)
                image = Image.objects.create(
                    owner=owner,
                    title=upload.title,
                    original=name,
                    original_format=upload.probe.format,
                    original_width=upload.probe.width,
                    original_height=upload.probe.height,
                    original_bytes=upload.file.size,
                    content_sha256=digest,
                    batch=batch,
                )
                image.job = job_create(owner=owner, kind=JOB_KIND, task_name=TASK_NAME, args=[image.pk])
                # One UPDATE, without a model save's signals and field walk: this is the request path.
                Image.objects.filter(pk=image.pk).update(job=image.job)
                image.reused = False
                images.append(image)
            if all(image.reused for image in images):
                # Ready as it is answered: no "your images are ready" to send (and so no email
                # job either: nothing of this upload runs on a worker).
                UploadBatch.objects.filter(pk=batch.pk).update(notified_at=timezone.now())
    except BaseException:
        # BrokerUnavailable comes after the commit: then the rows exist and keep their files.
        committed = [i for i in images if not i.reused]
        if not committed or not Image.objects.filter(pk=committed[0].pk).exists():
            _delete_files(stored)  # only files this call stored, never a reused one
        raise
    return images


def _digest(file: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


def _store_original(storage, owner: AbstractBaseUser, upload: Upload) -> str:
    upload.file.seek(0)
    # The field's upload_to makes the random name; only the extension comes from us.
    name = Image._meta.get_field("original").generate_filename(
        Image(owner=owner), f"original.{upload.probe.extension}"
    )
    return storage.save(name, upload.file)


def _reuse(*, source_pk: int, owner: AbstractBaseUser, upload: Upload, batch: UploadBatch) -> Image | None:
    """A new READY image sharing the files of the owner's image ``source_pk``; None if that one is
    no longer live and READY. The source's row is locked first, so neither a purge nor a re-run
    swapping its renditions can delete a file between this check and the commit: whichever commits
    later sees the other's rows when it checks references."""
    source = (
        Image.objects.select_for_update()
        .filter(pk=source_pk, owner_id=owner.pk, deleted_at__isnull=True, state=Image.State.READY)
        .first()
    )
    if source is None or not Job.objects.filter(pk=source.job_id, state=Job.State.SUCCESS).exists():
        return None
    copy = Image.objects.create(
        owner=owner,
        title=upload.title,
        original=source.original.name,
        original_format=source.original_format,
        original_width=source.original_width,
        original_height=source.original_height,
        original_bytes=upload.file.size,
        content_sha256=source.content_sha256,
        state=Image.State.READY,
        bytes_in=source.bytes_in,
        bytes_out=source.bytes_out,
        placeholder=source.placeholder,
        focal_x=source.focal_x,
        focal_y=source.focal_y,
        batch=batch,
        # The finished job whose result these files are: the upload answers with it.
        job_id=source.job_id,
        processed_at=timezone.now(),
    )
    Rendition.objects.bulk_create(
        [
            Rendition(
                image=copy,
                name=r.name,
                format=r.format,
                file=r.file.name,
                width=r.width,
                height=r.height,
                bytes=r.bytes,
            )
            for r in Rendition.objects.filter(image_id=source.pk)
        ]
    )
    copy.reused = True
    return copy


# --- compress -----------------------------------------------------------------------------------


def image_compress(*, image: Image, progress: Callable[[int, int], None] | None = None) -> dict[str, object]:
    """Make every rendition from one decode, store them, and swap them in atomically.

    Idempotent: each run writes its files under a fresh folder and replaces the image's previous
    set in one transaction (the replaced files are deleted after commit), so two deliveries of one
    task leave exactly one set. Storage errors raise TransientError (retried); a picture we will not
    process raises HumanError (never retried).
    """
    started = time.monotonic()
    Image.objects.filter(pk=image.pk, state=Image.State.PENDING).update(state=Image.State.PROCESSING)
    data = _read_original(image)
    specs = rendition_specs()
    focal = _focal(image)
    result = _render(image, data, specs=specs, focal=focal, progress=progress)
    written = _write_renditions(image, result.renditions)
    largest = max((s for s in specs if not s.square), key=lambda spec: spec.max_side).name
    bytes_out = min(len(r.data) for r, _ in written if r.name == largest)
    skipped = _swap_in(
        image,
        written,
        focal=focal,
        started=started,
        original_width=result.width,
        original_height=result.height,
        bytes_in=len(data),
        bytes_out=bytes_out,
        placeholder=base64.b64encode(result.placeholder).decode(),
    )
    if skipped:
        return {"image_id": image.pk, "skipped": skipped}
    if progress:
        progress(len(result.renditions) + 2, len(result.renditions) + 2)
    batch_settle(batch_id=image.batch_id)
    return {
        "image_id": image.pk,
        "renditions": len(written),
        "bytes_in": len(data),
        "bytes_out": bytes_out,
    }


def _render(
    image: Image,
    data: bytes,
    *,
    specs: list[imaging.RenditionSpec],
    focal: imaging.FocalPoint,
    progress: Callable[[int, int], None] | None,
) -> imaging.Result:
    """Every rendition from one decode; a picture we will not process fails the image."""
    try:
        return imaging.render(
            data,
            specs=specs,
            options=encode_options(),
            focal=focal,
            max_pixels=settings.MEDIA_MAX_PIXELS,
            # One more step than imaging counts: storing the files.
            progress=(lambda done, total: progress(done, total + 1)) if progress else None,
        )
    except imaging.ImageRejected as exc:
        image_fail(image_id=image.pk, error=exc.message)
        raise HumanError(exc.message) from exc


def _swap_in(
    image: Image,
    written: list[tuple[imaging.RenditionData, str]],
    *,
    focal: imaging.FocalPoint,
    started: float,
    **figures,
) -> str | None:
    """Replace the image's renditions by ``written`` and mark it READY with ``figures``, in one
    transaction. Returns why it did not ("deleted", "cancelled"), or None."""
    swapped = False
    try:
        with transaction.atomic():
            current = Image.objects.select_for_update().filter(pk=image.pk).first()
            if current is None or current.state == Image.State.CANCELLED:
                # Deleted or cancelled while we worked: what we wrote belongs to nobody.
                transaction.on_commit(lambda: _delete_files([name for _, name in written]))
                return "deleted" if current is None else "cancelled"
            # Deleting the old rows deletes their files after commit (signals.py).
            current.renditions.all().delete()
            Rendition.objects.bulk_create([_row(current, r, n) for r, n in written])
            Image.objects.filter(pk=image.pk).update(
                state=Image.State.READY,
                error="",
                **figures,
                processing_ms=round((time.monotonic() - started) * 1000),
                processed_at=timezone.now(),
            )
            if _focal(current) != focal:
                # The owner moved the focal point while we worked: cut the squares again.
                _square_job(current)
            swapped = True
    except BaseException:
        if not swapped:
            # Rolled back before its commit (the database went away mid-swap, a time limit): no
            # row names these files, and the job's next run writes a set of its own. A failure in
            # the commit itself may have committed, so those files stay (the orphan sweep's).
            _delete_files([name for _, name in written])
        raise
    return None


def _read_original(image: Image) -> bytes:
    try:
        with file_storage().open(image.original.name, "rb") as fh:
            return fh.read()
    except STORAGE_ERRORS as exc:
        if _is_missing(exc):
            image_fail(image_id=image.pk, error=MESSAGE_ORIGINAL_MISSING)
            raise HumanError(MESSAGE_ORIGINAL_MISSING) from exc
        raise TransientError(f"reading {image.original.name}: {exc}") from exc


def _write_renditions(
    image: Image, renditions: list[imaging.RenditionData]
) -> list[tuple[imaging.RenditionData, str]]:
    """Store the files under a fresh folder, so no run ever overwrites another's."""
    storage = file_storage()
    token = secrets.token_hex(6)
    folder = f"{STORAGE_PREFIX}renditions/{image.owner_id}/{image.pk}/{token}"
    written: list[tuple[imaging.RenditionData, str]] = []
    try:
        for rendition in renditions:
            ext = Rendition.EXTENSIONS[rendition.format]
            name = storage.save(f"{folder}/{rendition.name}.{ext}", ContentFile(rendition.data))
            written.append((rendition, name))
    except BaseException as exc:
        # Nothing half-made stays behind: not on a storage error, nor on a time limit.
        _delete_files([name for _, name in written])
        if isinstance(exc, STORAGE_ERRORS):
            raise TransientError(f"writing renditions of image {image.pk}: {exc}") from exc
        raise
    return written


def _row(image: Image, rendition: imaging.RenditionData, name: str) -> Rendition:
    return Rendition(
        image=image,
        name=rendition.name,
        format=rendition.format,
        file=name,
        width=rendition.width,
        height=rendition.height,
        bytes=len(rendition.data),
    )


def image_fail(*, image_id: int, error: str, task_id: str | None = None) -> bool:
    """Mark an image FAILED unless it is READY. With task_id, only if that job is still its job
    (a late failure of a superseded job must not touch a re-run)."""
    images = Image.objects.filter(pk=image_id).exclude(state__in=(Image.State.READY, Image.State.CANCELLED))
    if task_id is not None:
        images = images.filter(job__task_id=task_id)
    moved = images.update(state=Image.State.FAILED, error=error[:500], processed_at=timezone.now())
    if moved:
        batch_id = Image.objects.filter(pk=image_id).values_list("batch_id", flat=True).first()
        batch_settle(batch_id=batch_id)
    return bool(moved)


def images_settle(*, batch_size: int = 1000) -> int:
    """Fail the images left PENDING or PROCESSING behind a final job (the cleanup's sweep)."""
    return rows_settle_behind_final_jobs(
        unsettled=lambda after_pk, limit: selectors.images_unsettled(after_pk=after_pk, limit=limit),
        fail=lambda image, message, task_id: image_fail(image_id=image.pk, error=message, task_id=task_id),
        unfinished_message=MESSAGE_UNFINISHED,
        batch_size=batch_size,
    )


def image_cancel(*, image_id: int, task_id: str) -> bool:
    """Mark an image CANCELLED with its job (inside job_cancel's transaction). False when that job
    has made it READY already: too late, the cancel is refused. An image that follows another job
    now (re-run since) is left alone."""
    images = Image.objects.filter(pk=image_id, job__task_id=task_id)
    # The row lock orders this against image_compress's swap: whichever commits first wins.
    current = images.select_for_update().values_list("state", "batch_id").first()
    if current is None:
        return True
    state, batch_id = current
    if state == Image.State.READY:
        return False
    if state not in Image.FINAL_STATES:
        images.update(state=Image.State.CANCELLED, error=MESSAGE_CANCELLED, processed_at=timezone.now())
        batch_settle(batch_id=batch_id)
    return True


def images_recompress(*, images: Iterable[Image]) -> int:
    """Run compression again (admin action): a fresh job per image. Returns how many were queued."""
    count = 0
    for image in images:
        with transaction.atomic():
            job = job_create(
                owner=image.owner,
                kind=JOB_KIND,
                task_name=TASK_NAME,
                args=[image.pk],
                defer_if_broker_down=True,
            )
            Image.objects.filter(pk=image.pk).update(job=job, state=Image.State.PENDING, error="")
        count += 1
    return count


# --- focal point --------------------------------------------------------------------------------


def image_set_focus(*, image: Image, x: float, y: float) -> Job | None:
    """Move an image's focal point (fractions 0..1 of its upright width and height) and queue
    its squares to be cut again. Returns that job, or None when the point did not move (so the
    same change sent twice makes one job). HumanError while the image is not READY."""
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise ValueError("the focal point is outside the picture")
    with transaction.atomic():
        current = Image.objects.select_for_update().filter(pk=image.pk).first()
        if current is None:
            return None
        if current.state != Image.State.READY:
            raise HumanError(MESSAGE_FOCUS_NOT_READY)
        if (current.focal_x, current.focal_y) == (x, y):
            return None
        Image.objects.filter(pk=image.pk).update(focal_x=x, focal_y=y)
        image.focal_x, image.focal_y = x, y
        return _square_job(current)


def image_rename(*, image: Image, title: str) -> bool:
    """Give an image a new title (already cleaned by the form). False when it did not change."""
    changed = (
        Image.objects.filter(pk=image.pk, deleted_at__isnull=True).exclude(title=title).update(title=title)
    )
    image.title = title
    return bool(changed)


def _square_job(image: Image) -> Job:
    return job_create(
        owner=image.owner,
        kind=SQUARE_JOB_KIND,
        task_name=SQUARE_TASK_NAME,
        args=[image.pk],
        defer_if_broker_down=True,
    )


def image_render_square(*, image: Image) -> dict[str, object]:
    """Cut the square renditions around the image's current focal point and swap them in.

    Idempotent like image_compress: fresh names, one transaction replacing the previous squares.
    A run whose focal point was moved meanwhile throws its files away: the move queued a newer
    run, which will cut the right squares."""
    if image.state != Image.State.READY:
        return {"image_id": image.pk, "skipped": "not ready"}
    data = _read_original(image)
    focal = _focal(image)
    try:
        result = imaging.render(
            data,
            specs=[square_spec()],
            options=encode_options(),
            focal=focal,
            max_pixels=settings.MEDIA_MAX_PIXELS,
            placeholder=False,
        )
    except imaging.ImageRejected as exc:
        # It was READY, so its original decoded before: say so, without failing the image.
        raise HumanError(exc.message) from exc
    written = _write_renditions(image, result.renditions)
    with transaction.atomic():
        current = Image.objects.select_for_update().filter(pk=image.pk).first()
        if current is None or _focal(current) != focal or current.state != Image.State.READY:
            transaction.on_commit(lambda: _delete_files([name for _, name in written]))
            return {"image_id": image.pk, "skipped": "deleted" if current is None else "superseded"}
        current.renditions.filter(name=Rendition.Name.SQUARE).delete()
        Rendition.objects.bulk_create([_row(current, r, n) for r, n in written])
    return {"image_id": image.pk, "renditions": len(written), "focal": [focal.x, focal.y]}


# --- delete -------------------------------------------------------------------------------------
# A deletion is soft first: the row is hidden, its files kept, so its owner can undo it. The cleanup
# purges it once MEDIA_DELETE_GRACE_SECONDS have passed, and a file goes only when no row uses it
# any more (two rows may share a stored file). docs/deletion.md has the whole design.


def image_delete(*, image: Image) -> bool:
    """Hide an image from its owner (undo with :func:`image_restore`). False if already deleted.

    Its bytes are freed now, in the same transaction (config/accounts/quotas.py says why)."""
    with transaction.atomic():
        moved = Image.objects.filter(pk=image.pk, deleted_at__isnull=True).update(deleted_at=timezone.now())
        if moved:
            quotas.storage_release(user_id=image.owner_id, nbytes=image.original_bytes)
    # The deleted image no longer counts in its batch: the others may now all be done.
    batch_settle(batch_id=image.batch_id)
    return bool(moved)


def image_restore(*, user: AbstractBaseUser, image_id: int) -> bool:
    """Bring back an image its owner deleted, while the grace period lasts. False when there is
    nothing to bring back (not theirs, not deleted, or past the grace period): a 404 for a view.

    The grace period decides, not whether the purge has run yet, so the answer does not depend on
    the cleanup's timing; the purge locks the rows it removes, so an undo never wins a row it took.
    Its bytes count again: QuotaExceeded when they no longer fit (the image stays deleted).
    """
    since = timezone.now() - timedelta(seconds=settings.MEDIA_DELETE_GRACE_SECONDS)
    with transaction.atomic():
        images = Image.objects.filter(pk=image_id, owner_id=user.pk, deleted_at__gt=since)
        nbytes = images.values_list("original_bytes", flat=True).first()
        if nbytes is None or not images.update(deleted_at=None):
            return False
        quotas.storage_charge(user_id=user.pk, nbytes=nbytes)
    return True


def images_purge_deleted(*, batch_size: int = 1000) -> dict[str, int]:
    """Remove the images deleted more than MEDIA_DELETE_GRACE_SECONDS ago, with their renditions,
    and then every file of theirs that no remaining row uses (the cleanup's sweep).

    Returns {"images", "rows" (renditions included), "files", "bytes"}. The files go through the
    same path as every hard delete (signals.py: after commit, reference-checked), counted here.
    """
    done = {"images": 0, "rows": 0, "files": 0, "bytes": 0}
    with _counting_file_deletes() as freed:
        while True:
            before = timezone.now() - timedelta(seconds=settings.MEDIA_DELETE_GRACE_SECONDS)
            pks = selectors.images_to_purge(before=before, limit=batch_size)
            if not pks:
                break
            with transaction.atomic():
                # Locked and re-checked: an undo that committed meanwhile keeps its image.
                locked = list(
                    Image._base_manager.select_for_update()
                    .filter(pk__in=pks, deleted_at__lt=before)
                    .values_list("pk", flat=True)
                )
                _, per_model = Image._base_manager.filter(pk__in=locked).delete()
            deleted = per_model.get(Image._meta.label, 0)
            done["images"] += deleted
            done["rows"] += sum(per_model.values())
            if not deleted:
                break  # all of them were undone or purged by someone else meanwhile
    done.update(freed)
    return done


def files_delete_on_commit(names: Iterable[str]) -> None:
    """Once the surrounding transaction commits, delete those of these files no row uses any more."""
    names = [n for n in names if n]
    if names:
        transaction.on_commit(lambda: files_delete_unreferenced(names))


def files_delete_unreferenced(names: Iterable[str]) -> dict[str, int]:
    """Delete the stored files of ``names`` that no image or rendition row references (deleted
    rows in their grace period included: they may come back). Through the storage API only, so
    it works the same on S3. Returns {"files", "bytes"} deleted."""
    names = list(dict.fromkeys(n for n in names if n))
    done = {"files": 0, "bytes": 0}
    if not names:
        return done
    used = selectors.files_referenced(names)
    storage = file_storage()
    for name in names:
        if name in used:
            continue  # another row shares this file: it stays
        done["bytes"] += delete_file(storage, name)
        done["files"] += 1
    tally = _file_deletes.get()
    if tally is not None:
        tally["files"] += done["files"]
        tally["bytes"] += done["bytes"]
    return done


# What the purge counts of the deletes its own commits trigger.
_file_deletes: ContextVar[dict[str, int] | None] = ContextVar("media_file_deletes", default=None)


@contextmanager
def _counting_file_deletes() -> Iterator[dict[str, int]]:
    tally = {"files": 0, "bytes": 0}
    token = _file_deletes.set(tally)
    try:
        yield tally
    finally:
        _file_deletes.reset(token)


def _delete_files(names: Iterable[str]) -> None:
    """Delete files this code just wrote and no row knows of (a failed upload or run)."""
    storage = file_storage()
    for name in names:
        delete_file(storage, name, measure=False)


# --- batches ------------------------------------------------------------------------------------


def batch_settle(*, batch_id: int | None) -> bool:
    """Notify a batch's owner once every image in it is final. True if this call notified.

    The conditional UPDATE of notified_at decides who notifies when two images finish at once.
    """
    if batch_id is None:
        return False
    final = Image.FINAL_STATES
    # A deleted image no longer counts: its batch is done when the others are.
    counts = (
        selectors.live_images()
        .filter(batch_id=batch_id)
        .aggregate(
            total=Count("pk"),
            ready=Count("pk", filter=Q(state=Image.State.READY)),
            done=Count("pk", filter=Q(state__in=final)),
            cancelled=Count("pk", filter=Q(state=Image.State.CANCELLED)),
        )
    )
    if not counts["total"] or counts["done"] < counts["total"]:
        return False
    if counts["cancelled"] == counts["total"]:
        return False  # the owner cancelled it all: there is nothing to tell them

    try:
        with transaction.atomic():
            claimed = UploadBatch.objects.filter(pk=batch_id, notified_at__isnull=True).update(
                notified_at=timezone.now()
            )
            if not claimed:
                return False
            batch = UploadBatch.objects.select_related("owner").get(pk=batch_id)
            ready, failed = counts["ready"], counts["total"] - counts["ready"]
            notify(
                user=batch.owner,
                kind="images_ready" if ready else "images_failed",
                title=_batch_title(ready, failed),
                body=_batch_body(ready, failed),
                link=f"{reverse('media_app:gallery')}?batch={batch_id}",
                key=f"batch:{batch_id}",
            )
    except Exception:
        # The images are done either way; a lost notification must not fail the picture.
        logger.exception("could not notify the owner of upload batch %s", batch_id)
        return False
    return True


def _batch_title(ready: int, failed: int) -> str:
    """The notification's title (and the email's subject), a sentence of its own:
    "Your picture is ready", "Your 4 pictures are ready", "3 of 4 pictures are ready",
    "Your picture could not be read", "None of your 4 pictures could be read"."""
    total = ready + failed
    if not failed:
        return "Your picture is ready" if ready == 1 else f"Your {ready} pictures are ready"
    if not ready:
        return (
            "Your picture could not be read"
            if failed == 1
            else f"None of your {total} pictures could be read"
        )
    return f"{ready} of {total} pictures {'is' if ready == 1 else 'are'} ready"


def _batch_body(ready: int, failed: int) -> str:
    total = ready + failed
    if not failed:
        return "Your picture is ready." if ready == 1 else f"All {ready} pictures from your upload are ready."
    if not ready:
        if failed == 1:
            return "Your picture could not be read: the file may be damaged or not a picture."
        return f"None of the {total} pictures in your upload could be read."
    return f"{ready} of {total} pictures {'is' if ready == 1 else 'are'} ready; {failed} could not be read."
