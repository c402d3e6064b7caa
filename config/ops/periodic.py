"""What every periodic job does around its service call: no second run of a period, no pile-up."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from config.core.errors import TransientError

from . import locks
from .beat import SLOT_HEADER

logger = logging.getLogger(__name__)

# The options of every periodic task (ops' own and a person's scheduled report): a temporary
# failure (Redis, the database) retries on Celery's backoff, 5 times, no wait past 600 s.
PERIODIC = {
    "bind": True,
    "autoretry_for": (TransientError,),
    "max_retries": 5,
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
}

# A slot is claimed for two days: far longer than any gap between a run and its duplicate.
SLOT_TTL = 2 * 24 * 3600
# The lock outlives the task's hard time limit by this much, so a killed run frees it soon after.
LOCK_MARGIN = 60

SKIPPED_DUPLICATE = "already ran for this period"
SKIPPED_RUNNING = "already running"


def run_periodic(task, func: Callable[..., Any], /, *, running_key: str | None = None, **kwargs) -> Any:
    """Run ``func(**kwargs)`` for ``task`` unless this period already ran or a run is in progress.

    Only a message from beat carries a slot; "run now" in the admin and manual sends have none, so
    they always run (still never two at once). ``running_key`` narrows "a run is in progress" to one
    of many schedules of the same task (a person's report), which otherwise would wait on each other.
    """
    request = task.request
    token = request.id or "local"
    slot = getattr(request, SLOT_HEADER, None)
    # A retry carries its first attempt's headers: the slot is its own already.
    if slot and not request.retries:
        if not locks.claim_once(f"ops:slot:{slot}", token=token, ttl=SLOT_TTL):
            logger.info("%s: slot %s already ran; skipped", task.name, slot)
            return {"skipped": SKIPPED_DUPLICATE}
    timeout = int(task.time_limit or task.app.conf.task_time_limit or 3600) + LOCK_MARGIN
    with locks.hold(f"ops:running:{running_key or task.name}", token=token, timeout=timeout) as acquired:
        if not acquired:
            logger.info("%s: a previous run is still going; skipped", task.name)
            return {"skipped": SKIPPED_RUNNING}
        return func(**kwargs)
