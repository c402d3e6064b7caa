"""How a task waits before it tries a temporary failure again: one policy, named per kind of failure.

Exponential backoff with equal jitter: retry ``n`` (counting from 0) waits between half and all of
``min(cap, base * 2**n)`` seconds, so the retries of many jobs after one outage spread out and none
comes back at once. No clock is read: hosts whose clocks disagree count the same way.

A policy ends after ``max_retries``, or, given a ``budget``, once the waits add up to at least that
many seconds. A storage outage has a length, and a job should outlast a short one (an object store
restarting, a network blip) whatever the jitter drew: the waits are bounded below, so the budget is
reached after a known number of retries (the task's ``max_retries``).

Numbers are given as such or as the name of the setting that holds them, read when used (tests and
deployments set them).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class RetryPolicy:
    base: float | str
    cap: float | str
    budget: float | str | None = None
    retries: int | None = None

    def countdown(self, retries: int) -> float | None:
        """The delay before retry number ``retries + 1``, or None once the policy is spent."""
        if self._spent(retries):
            return None
        ceiling = self._ceiling(retries)
        return random.uniform(ceiling / 2, ceiling)

    @property
    def max_retries(self) -> int:
        """How many retries the policy allows at most (the task's ``max_retries``)."""
        if self.retries is not None:
            return self.retries
        n = 0
        while not self._spent(n) and n < 1000:
            n += 1
        return n

    def _ceiling(self, retries: int) -> float:
        return min(_number(self.cap), _number(self.base) * 2**retries)

    def _spent(self, retries: int) -> bool:
        if self.retries is not None and retries >= self.retries:
            return True
        if self.budget is None:
            return False
        # The waits so far add up to at least half their ceilings.
        return sum(self._ceiling(n) / 2 for n in range(retries)) >= _number(self.budget)


def _number(value: float | str) -> float:
    return float(getattr(settings, value) if isinstance(value, str) else value)


# A storage or database hiccup of a job (media, reports, mydata): 2 s doubling to at most 30 s, for
# at least STORAGE_RETRY_BUDGET_SECONDS (60) in all.
STORAGE = RetryPolicy(base=2.0, cap=30.0, budget="STORAGE_RETRY_BUDGET_SECONDS")
# A temporary SMTP failure: NOTIFICATIONS_RETRY_BASE_SECONDS (20) doubling, 5 retries, no wait longer
# than BACKROOM_MAX_COUNTDOWN (below the broker's visibility timeout).
SMTP = RetryPolicy(base="NOTIFICATIONS_RETRY_BASE_SECONDS", cap="BACKROOM_MAX_COUNTDOWN", retries=5)
