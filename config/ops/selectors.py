"""Reads for the operations dashboard: the last days' statistics and the system's state now."""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from config.celery_app import app
from config.core.health import BEAT_HEARTBEAT_KEY, BEAT_STALE_AFTER
from config.core.models import Job
from config.core.words import kind_name

from . import locks
from .beat import LEASE_KEY
from .models import DailyStatistics
from .services import percentile

logger = logging.getLogger(__name__)


def daily_series(*, end: date, days: int = 30) -> list[tuple[date, DailyStatistics | None]]:
    """One entry per day up to ``end`` (oldest first); a day never computed is None."""
    start = end - timedelta(days=days - 1)
    rows = {s.day: s for s in DailyStatistics.objects.filter(day__gte=start, day__lte=end)}
    return [(start + timedelta(days=n), rows.get(start + timedelta(days=n))) for n in range(days)]


def statistics_rows(*, fields: list[str], date_from: date | None = None, date_to: date | None = None):
    """The daily statistics of [date_from, date_to] as tuples of ``fields``, oldest first (for the
    daily statistics export)."""
    days = {}
    if date_from:
        days["day__gte"] = date_from
    if date_to:
        days["day__lte"] = date_to
    return DailyStatistics.objects.filter(**days).order_by("day").values_list(*fields)


def queue_names() -> list[str]:
    names = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values() if "queue" in route}
    names.add(settings.CELERY_TASK_DEFAULT_QUEUE)
    return sorted(names)


def queue_lengths() -> dict[str, int | None]:
    """Messages waiting in each queue now; None for a queue the broker would not tell about."""
    lengths: dict[str, int | None] = dict.fromkeys(queue_names())
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
            for name in lengths:
                lengths[name] = _queue_length(conn, name)
    except Exception as exc:  # broker down: the page still renders, saying so
        logger.warning("queue lengths unavailable: %s", exc)
    return lengths


def _queue_length(conn, name: str) -> int | None:
    if conn.transport.driver_type == "redis":
        # One list per priority step; kombu's own count adds them up.
        return int(conn.default_channel._size(name))
    channel = conn.channel()  # AMQP: a passive declare of a missing queue closes its channel
    try:
        return int(channel.queue_declare(queue=name, passive=True).message_count)
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            channel.close()


def workers_online(timeout: float = 1.0) -> list[str]:
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception as exc:
        logger.warning("worker ping failed: %s", exc)
        return []
    return sorted(name for reply in replies for name in reply)


def beat_status() -> dict[str, Any]:
    try:
        last = cache.get(BEAT_HEARTBEAT_KEY)
        leader = locks.holder(LEASE_KEY)
    except Exception as exc:
        logger.warning("beat status unavailable: %s", exc)
        return {"last_tick_age": None, "leader": None, "ok": False}
    age = None if last is None else max(0, int(time.time() - float(last)))
    return {"last_tick_age": age, "leader": leader, "ok": age is not None and age <= BEAT_STALE_AFTER}


# --- the dashboard's live part ---------------------------------------------------------------------

RATES_WINDOW = timedelta(hours=1)
# A busy hour is sampled, not read whole: the newest jobs are what the rates are about.
RATES_SAMPLE = 20_000


def recent_failures(*, limit: int = 10) -> list[dict[str, Any]]:
    """The last jobs that failed: what an operator opens first in the Jobs admin."""
    rows = (
        Job.objects.filter(state=Job.State.FAILURE)
        .order_by("-finished_at", "-pk")
        .values("pk", "task_id", "kind", "error", "finished_at")[:limit]
    )
    return [{**row, "kind_name": kind_name(row["kind"])} for row in rows]


def task_rates(*, now=None) -> list[dict[str, Any]]:
    """Per task over the last hour, as Flower shows them: jobs finished per minute, how many failed,
    and their run times (median and 95th percentile, started to finished)."""
    now = now or timezone.now()
    finished = (
        Job.objects.filter(finished_at__gte=now - RATES_WINDOW, finished_at__lte=now)
        .order_by("-finished_at")
        .values_list("task_name", "state", "started_at", "finished_at")[:RATES_SAMPLE]
    )
    by_task: dict[str, dict[str, Any]] = {}
    for name, state, started, ended in finished:
        row = by_task.setdefault(name, {"task": name, "finished": 0, "failed": 0, "ms": []})
        row["finished"] += 1
        row["failed"] += state == Job.State.FAILURE
        if started and ended:
            row["ms"].append(int((ended - started).total_seconds() * 1000))
    minutes = RATES_WINDOW.total_seconds() / 60
    out = []
    for row in sorted(by_task.values(), key=lambda r: -r["finished"]):
        times = row.pop("ms")
        out.append(
            {
                **row,
                "per_minute": round(row["finished"] / minutes, 2),
                "p50_ms": percentile(times, 50),
                "p95_ms": percentile(times, 95),
            }
        )
    return out
