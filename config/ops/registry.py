"""What each app contributes to the periodic jobs, declared in its own ``ops.py``.

The ops layer sits below the apps and never imports one: each app's ``ops.py``, imported at
start-up by :func:`autodiscover` (as the admin finds ``admin.py``), registers here

- **sweeps**, run in turn by ``ops.cleanup``: ``fn(**options) -> Swept``. A sweep names, as
  keyword arguments with defaults, the cleanup options it reads (``batch_size``,
  ``orphan_grace_hours`` …); the cleanup hands each sweep only those;
- **daily figures**, run by ``ops.statistics``: ``fn(start, end) -> {DailyStatistics field: value}``;
- **failure reasons**: ``fn(start, end) -> [error text, …]``, one per business row that failed in
  ``[start, end)`` without a failed job (ops counts every failed job itself).

Each app queries its own models; ops only adds up what comes back.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.module_loading import autodiscover_modules

SweepFn = Callable[..., "Swept"]
FiguresFn = Callable[[datetime, datetime], dict[str, Any]]
ReasonsFn = Callable[[datetime, datetime], list[str]]


@dataclass
class Swept:
    """What one sweep did. rows/files/bytes add up into the cleanup's totals; counts are its own
    named figures in the summary (two sweeps reporting the same name are added up)."""

    rows: int = 0
    files: int = 0
    bytes: int = 0
    counts: dict[str, int] = field(default_factory=dict)


# The longest rest after one batch: a batch that stalled (a lock wait) is not followed by a stall.
MAX_REST = 2.0


def rest_after(started: float, ratio: float) -> None:
    """Sleep ``ratio`` times the time since ``started`` (``time.monotonic()``), at most MAX_REST.

    The cleanup rests after every batch, so however much it has to delete it takes at most
    1 / (1 + ratio) of a core and of the database's attention, and the site's requests keep their
    times while it runs (issue 17). ratio 0: no rest.
    """
    if ratio > 0:
        time.sleep(min(MAX_REST, (time.monotonic() - started) * ratio))


class Registry:
    def __init__(self) -> None:
        # Keyed by name: registering again (a module imported twice) replaces, never duplicates.
        self._sweeps: dict[str, SweepFn] = {}
        self._figures: dict[str, FiguresFn] = {}
        self._reasons: dict[str, ReasonsFn] = {}

    def sweep(self, name: str) -> Callable[[SweepFn], SweepFn]:
        def register(fn: SweepFn) -> SweepFn:
            self._sweeps[name] = fn
            return fn

        return register

    def figures(self, name: str) -> Callable[[FiguresFn], FiguresFn]:
        def register(fn: FiguresFn) -> FiguresFn:
            self._figures[name] = fn
            return fn

        return register

    def failure_reasons(self, name: str) -> Callable[[ReasonsFn], ReasonsFn]:
        def register(fn: ReasonsFn) -> ReasonsFn:
            self._reasons[name] = fn
            return fn

        return register

    def sweeps(self) -> Iterator[tuple[str, SweepFn]]:
        """In registration order: INSTALLED_APPS order, then each ops.py's own order."""
        return iter(list(self._sweeps.items()))

    def all_figures(self) -> Iterator[tuple[str, FiguresFn]]:
        return iter(list(self._figures.items()))

    def all_failure_reasons(self) -> Iterator[tuple[str, ReasonsFn]]:
        return iter(list(self._reasons.items()))

    def sweep_options(self) -> set[str]:
        """Every cleanup option some sweep reads."""
        return {name for _, fn in self.sweeps() for name in option_names(fn)}


def option_names(fn: Callable) -> list[str]:
    return [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


registry = Registry()


def autodiscover() -> None:
    """Import every installed app's ``ops`` module (OpsConfig.ready calls this)."""
    autodiscover_modules("ops")
