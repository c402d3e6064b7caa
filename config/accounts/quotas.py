"""Limits per person: a storage quota (an exact counter in the database) and an upload rate
(a Redis window, :mod:`config.accounts.throttle`).

The quota counts the bytes of the originals a person keeps (what they sent us; renditions are our
choice of encoding and smaller than the original). A picture frees its bytes when its owner
deletes it, not when the purge removes it later: they see it gone, so they may fill its place;
an undo charges it again, and is refused when that would go over the quota.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Q
from django.db.models.functions import Greatest

from config.core import humanize

from . import throttle
from .models import Allowance


@dataclass(frozen=True)
class Usage:
    used: int
    allowed: int

    @property
    def percent(self) -> float:
        return 100.0 if not self.allowed else humanize.percent(self.used, self.allowed)


class QuotaExceeded(Exception):
    def __init__(self, *, used: int, allowed: int, wanted: int) -> None:
        self.used, self.allowed, self.wanted = used, allowed, wanted
        super().__init__(self.message)

    @property
    def message(self) -> str:
        wanted, used, allowed = (humanize.human_bytes(n) for n in (self.wanted, self.used, self.allowed))
        return (
            f"This upload needs {wanted}, but you use {used} "
            f"of your {allowed}. Delete some pictures to make room."
        )


def _allowance(user_id: int) -> Allowance:
    # get_or_create retries a racing insert's IntegrityError in a savepoint: one row per person.
    return Allowance.objects.get_or_create(user_id=user_id)[0]


def usage(*, user_id: int) -> Usage:
    row = Allowance.objects.filter(user_id=user_id).first()
    if row is None:
        return Usage(used=0, allowed=settings.ACCOUNTS_STORAGE_QUOTA_BYTES)
    return Usage(used=row.bytes_used, allowed=_quota(row))


def _quota(row: Allowance) -> int:
    return settings.ACCOUNTS_STORAGE_QUOTA_BYTES if row.quota_bytes is None else row.quota_bytes


def storage_check(*, user_id: int, nbytes: int) -> None:
    """A cheap look before any file is stored; :func:`storage_charge` is the one that counts."""
    now = usage(user_id=user_id)
    if now.used + nbytes > now.allowed:
        raise QuotaExceeded(used=now.used, allowed=now.allowed, wanted=nbytes)


def storage_charge(*, user_id: int, nbytes: int) -> None:
    """Add ``nbytes`` to a person's usage, or raise QuotaExceeded. Call it inside the transaction
    that writes the rows: the conditional UPDATE takes the usage row's lock until that commits,
    and a racing upload's UPDATE re-reads the row after it (PostgreSQL's READ COMMITTED re-checks
    the WHERE on the new version; SQLite has one writer at a time), so the sum never passes."""
    if nbytes <= 0:
        return
    default = settings.ACCOUNTS_STORAGE_QUOTA_BYTES
    fits = Q(quota_bytes__isnull=True, bytes_used__lte=default - nbytes) | Q(
        quota_bytes__isnull=False, bytes_used__lte=F("quota_bytes") - nbytes
    )
    charged = Allowance.objects.filter(fits, user_id=user_id)
    # The row exists for everyone who uploaded before: the UPDATE alone, on the upload path. Only
    # when it moved nothing is the row made (a first upload) and the charge tried once more.
    if charged.update(bytes_used=F("bytes_used") + nbytes):
        return
    _allowance(user_id)
    if not charged.update(bytes_used=F("bytes_used") + nbytes):
        now = usage(user_id=user_id)
        raise QuotaExceeded(used=now.used, allowed=now.allowed, wanted=nbytes)


def storage_release(*, user_id: int, nbytes: int) -> None:
    """Give bytes back (a deleted picture). Never below zero."""
    if nbytes > 0:
        Allowance.objects.filter(user_id=user_id).update(bytes_used=Greatest(F("bytes_used") - nbytes, 0))


def uploads_per_minute(*, user_id: int) -> int:
    row = Allowance.objects.filter(user_id=user_id).values_list("uploads_per_minute", flat=True).first()
    return settings.ACCOUNTS_UPLOADS_PER_MINUTE if row is None else row


def upload_attempt(*, user_id: int) -> int:
    """Count one upload. 0 if it may go ahead, else the seconds until the window closes."""
    limit = uploads_per_minute(user_id=user_id)
    return throttle.attempt([throttle.Counter("upload-user", str(user_id), limit, 60)])
