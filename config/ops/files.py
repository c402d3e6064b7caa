"""Storage sweeps the apps share: deleting a file and counting what it freed, and the orphan walk.

Only the storage API is used (listdir, get_modified_time, size, delete), so the same code runs on
the file system and on an object store. Which files are still wanted is the app's to say.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from time import monotonic

from django.core.files.storage import Storage
from django.utils import timezone

from config.core.storage import STORAGE_ERRORS

from .registry import Swept, rest_after

logger = logging.getLogger(__name__)


def delete_file(storage: Storage, name: str, *, measure: bool = True) -> int:
    """Delete one stored file, quietly: a failure is logged and the file left for the orphan sweep.

    Returns the bytes freed when ``measure`` (0 if it was already gone or would not go); measuring
    costs one more storage call (a HEAD on S3). Any exception counts as a failure: an object
    store's errors are not OSErrors.
    """
    size = None
    if measure:
        try:
            size = storage.size(name)
        except Exception:
            size = None  # gone already, or the store would not say: it is deleted all the same
    try:
        storage.delete(name)
    except Exception as exc:
        logger.warning("could not delete %s: %s", name, exc)
        return 0
    return size or 0


def walk(storage: Storage, prefix: str) -> Iterator[str]:
    try:
        dirs, files = storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in files:
        yield posixpath.join(prefix, name)
    for sub in dirs:
        yield from walk(storage, posixpath.join(prefix, sub))


def _folders(own: str, prefixes: Iterable[str] | None) -> list[str]:
    """The folders of ``own`` to walk: all of it, or the parts of it that ``prefixes`` name."""
    own = own.rstrip("/")
    if prefixes is None:
        return [own]
    found: list[str] = []
    for given in prefixes:
        given = given.rstrip("/")
        if given == "" or own == given or own.startswith(given + "/"):
            return [own]  # the whole of our folder is asked for
        if given.startswith(own + "/"):
            found.append(given)
    return found


def orphans_delete(
    *,
    storage: Storage,
    prefix: str,
    referenced: Callable[[list[str]], set[str]],
    grace_hours: float = 24,
    prefixes: Iterable[str] | None = None,
    batch_size: int = 1000,
    rest_ratio: float = 0.0,
) -> Swept:
    """Delete the files under ``prefix`` that ``referenced`` does not claim and that are older
    than the grace period. An upload in flight (stored, its row not committed yet) is young, so
    the grace period keeps it. ``prefixes`` (the cleanup's option) narrows the walk; after each
    batch it rests ``rest_ratio`` times as long as the batch took."""
    cutoff = timezone.now() - timedelta(hours=grace_hours)
    done = Swept(counts={"orphans_deleted": 0})

    def sweep(candidates: list[str]) -> None:
        used = referenced(candidates)
        for name in candidates:
            if name not in used:
                done.bytes += delete_file(storage, name)
                done.files += 1
                logger.info("deleted orphaned file %s", name)
        done.counts["orphans_deleted"] = done.files

    candidates: list[str] = []
    started = monotonic()
    for folder in _folders(prefix, prefixes):
        for name in walk(storage, folder):
            try:
                modified = storage.get_modified_time(name)
            except STORAGE_ERRORS:
                continue  # deleted meanwhile (S3 answers with a botocore error, not an OSError)
            if timezone.is_naive(modified):
                modified = timezone.make_aware(modified)
            if modified >= cutoff:
                continue
            candidates.append(name)
            if len(candidates) >= batch_size:
                sweep(candidates)
                candidates = []
                rest_after(started, rest_ratio)
                started = monotonic()
    if candidates:
        sweep(candidates)
    return done
