"""What every app needs to know about its file storage, local disk or S3: which errors are the
storage's, which mean "not there", and how long a job keeps retrying them.

The retry budget is in seconds, not tries: a storage outage has a length, and a job should outlast
a short one (an object store restarting, a network blip) whatever the jitter drew. The countdowns
are bounded below, so the budget is reached after a known number of retries, and no clock is read:
hosts whose clocks disagree count the same way.
"""

from __future__ import annotations

import random

from django.conf import settings

try:  # S3 through django-storages: its errors are not OSErrors
    from botocore.exceptions import BotoCoreError, ClientError

    STORAGE_ERRORS: tuple[type[BaseException], ...] = (OSError, BotoCoreError, ClientError)
except ImportError:  # pragma: no cover - botocore ships with production requirements
    STORAGE_ERRORS = (OSError,)

# One retry waits between half and all of this many seconds times 2**retries, at most RETRY_CAP.
RETRY_BASE = 2.0
RETRY_CAP = 30.0


def is_missing(exc: BaseException) -> bool:
    """True when a storage error means the file is not there (rather than the storage being down)."""
    if isinstance(exc, FileNotFoundError):
        return True
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in ("404", "NoSuchKey", "NotFound")


def _ceiling(retries: int) -> float:
    return min(RETRY_CAP, RETRY_BASE * 2**retries)


def retry_countdown(retries: int, *, budget: float | None = None) -> float | None:
    """The delay before retry number ``retries + 1`` of a storage error, or None once the budget is
    spent. The waits so far add up to at least half their ceilings, so a job gives up only after
    it has waited at least ``budget`` seconds (STORAGE_RETRY_BUDGET_SECONDS) in all."""
    budget = settings.STORAGE_RETRY_BUDGET_SECONDS if budget is None else budget
    waited_at_least = sum(_ceiling(n) / 2 for n in range(retries))
    if waited_at_least >= budget:
        return None
    ceiling = _ceiling(retries)
    return random.uniform(ceiling / 2, ceiling)


def retry_max(budget: float | None = None) -> int:
    """How many retries the budget allows at most (a task's max_retries)."""
    n = 0
    while retry_countdown(n, budget=budget) is not None and n < 1000:
        n += 1
    return n
