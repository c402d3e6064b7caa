"""Prometheus metrics, computed from the database and Redis when Prometheus scrapes (GET /metrics).

Why at scrape time rather than prometheus_client's multiprocess mode: the facts live in shared
stores already (job rows, the broker's lists, beat's heartbeat key), and the processes that change
them are many and of several kinds (web processes, worker pool children that come and go with
--max-tasks-per-child, beat). Multiprocess mode would need one shared directory of mmap files on
one host for all of them, wiped at every deploy, and counters would still reset or double when a
child dies mid-write; it cannot span hosts at all. Read from the database and Redis, every web
process answers the same figures, whichever process (or host) Prometheus reaches, by construction.

The price is work per scrape, kept bounded: grouped COUNTs on indexed columns, one window of recent
finished rows (at most METRICS_WINDOW_ROWS), a few LLEN/LINDEX, and one worker ping that waits
METRICS_PING_TIMEOUT seconds. Each part is guarded: a part that fails is reported in
``backroom_metrics_part_up{part=...} 0`` and the others still answer.

Windowed figures (histograms, failures, retries, cancellations, finished) describe jobs finished
in the last METRICS_WINDOW seconds. They are gauges of that window, not counters since boot: use
them without rate(), e.g. ``histogram_quantile(0.99, sum by (le) (backroom_job_wait_seconds_bucket))``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import timedelta

import redis
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Sum
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

from config.celery_app import app
from config.core import redis as shared_redis

from .health import BEAT_HEARTBEAT_KEY
from .models import Job

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: a task waits a fraction of a second on an idle system, minutes behind a backlog.
WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
RUN_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
# Failure reasons are the human messages jobs store (a bounded set in practice); past this many
# distinct ones in a window, the rarest are counted as "other", so a label never explodes.
MAX_REASONS = 20
REASON_CHARS = 80
# Kombu's Redis transport keeps priorities 3, 6 and 9 of a queue in lists of their own.
PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)
# An oldest message without a job row (a beat-sent task, before it starts) is dated by the first
# scrape that saw it at the head of its queue: a lower bound of its age.
FIRST_SEEN_KEY = "metrics:first-seen:{}"


def queue_names() -> list[str]:
    if settings.METRICS_QUEUES:
        return list(settings.METRICS_QUEUES)
    names = {settings.CELERY_TASK_DEFAULT_QUEUE}
    names.update(route["queue"] for route in settings.CELERY_TASK_ROUTES.values() if "queue" in route)
    return sorted(names)


def _seconds(delta: timedelta | None) -> float | None:
    return None if delta is None else max(delta.total_seconds(), 0.0)


def _histogram(name: str, doc: str, buckets: tuple, samples: dict[str, list[float]]) -> Metric:
    family = HistogramMetricFamily(name, doc, labels=["kind"])
    for kind, values in sorted(samples.items()):
        counts = [sum(1 for v in values if v <= b) for b in buckets]
        family.add_metric(
            [kind],
            [*[(repr(float(b)), c) for b, c in zip(buckets, counts, strict=True)], ("+Inf", len(values))],
            sum(values),
        )
    return family


class JobCollector:
    """Every family from one read of the stores. prometheus_client calls collect() per scrape."""

    def collect(self) -> Iterable[Metric]:
        parts = GaugeMetricFamily(
            "backroom_metrics_part_up", "1 if this part of the scrape could be read", labels=["part"]
        )
        for part, read in (
            ("jobs", self._jobs),
            ("window", self._window),
            ("queues", self._queues),
            ("beat", self._beat),
            ("workers", self._workers),
        ):
            try:
                families = list(read())
            except Exception as exc:  # one store away must not blank the rest of the scrape
                logger.warning("metrics: %s could not be read: %s", part, exc)
                parts.add_metric([part], 0)
                continue
            parts.add_metric([part], 1)
            yield from families
        yield parts

    def _jobs(self):
        family = GaugeMetricFamily("backroom_jobs", "Job rows by kind and state", labels=["kind", "state"])
        for row in Job.objects.order_by().values("kind", "state").annotate(n=Count("id")):
            family.add_metric([row["kind"], row["state"]], row["n"])
        yield family

    def _window(self):
        window = settings.METRICS_WINDOW
        cutoff = timezone.now() - timedelta(seconds=window)
        recent = Job.objects.filter(finished_at__gte=cutoff).order_by()
        wait: dict[str, list[float]] = defaultdict(list)
        run: dict[str, list[float]] = defaultdict(list)
        finished: Counter = Counter()
        failures: Counter = Counter()
        rows = recent.values_list("kind", "state", "error", "created_at", "started_at", "finished_at")
        for kind, state, error, created, started, ended in rows[: settings.METRICS_WINDOW_ROWS]:
            finished[(kind, state)] += 1
            if state == Job.State.FAILURE:
                failures[(kind, (error or "unknown")[:REASON_CHARS])] += 1
            if started is not None:
                wait[kind].append(_seconds(started - created))
                run[kind].append(_seconds(ended - started))
        yield _histogram(
            "backroom_job_wait_seconds",
            f"Queued to started, jobs finished in the last {window} s",
            WAIT_BUCKETS,
            wait,
        )
        yield _histogram(
            "backroom_job_run_seconds",
            f"Started to finished, jobs finished in the last {window} s",
            RUN_BUCKETS,
            run,
        )
        family = GaugeMetricFamily(
            "backroom_jobs_finished_recent",
            f"Jobs finished in the last {window} s, by kind and final state",
            labels=["kind", "state"],
        )
        for (kind, state), n in sorted(finished.items()):
            family.add_metric([kind, state], n)
        yield family
        yield self._failures(failures, window)
        family = GaugeMetricFamily(
            "backroom_job_cancellations_recent",
            f"Jobs cancelled in the last {window} s",
            labels=["kind"],
        )
        for (kind, state), n in sorted(finished.items()):
            if state == Job.State.CANCELLED:
                family.add_metric([kind], n)
        yield family
        family = GaugeMetricFamily(
            "backroom_job_retries_recent",
            f"Executions past the first of jobs updated in the last {window} s",
            labels=["kind"],
        )
        retried = (
            Job.objects.filter(updated_at__gte=cutoff, attempts__gt=1)
            .order_by()
            .values("kind")
            .annotate(n=Sum(F("attempts") - 1))
        )
        for row in retried:
            family.add_metric([row["kind"]], row["n"])
        yield family

    def _failures(self, failures: Counter, window: int) -> Metric:
        family = GaugeMetricFamily(
            "backroom_job_failures_recent",
            f"Jobs failed in the last {window} s, by kind and the message they stored",
            labels=["kind", "reason"],
        )
        by_reason: Counter = Counter()
        for (_, reason), n in failures.items():
            by_reason[reason] += n
        kept = {reason for reason, _ in by_reason.most_common(MAX_REASONS)}
        folded: Counter = Counter()
        for (kind, reason), n in failures.items():
            folded[(kind, reason if reason in kept else "other")] += n
        for (kind, reason), n in sorted(folded.items()):
            family.add_metric([kind, reason], n)
        return family

    def _queues(self):
        depth = GaugeMetricFamily("backroom_queue_depth", "Messages waiting in a queue", labels=["queue"])
        age = GaugeMetricFamily(
            "backroom_queue_oldest_message_age_seconds",
            "Age of the oldest message waiting in a queue (0 when empty)",
            labels=["queue"],
        )
        if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
            return  # RabbitMQ: its own exporter reports queues; part_up says 1 with no samples

        broker = redis.Redis.from_url(
            settings.CELERY_BROKER_URL,
            socket_connect_timeout=settings.SOCKET_CONNECT_TIMEOUT,
            socket_timeout=settings.SOCKET_TIMEOUT,
        )
        try:
            yield from self._queue_families(broker, depth, age, shared_redis)
        finally:
            broker.close()

    def _queue_families(self, broker, depth, age, shared_redis):
        now = time.time()
        for queue in queue_names():
            keys = [queue if p == 0 else f"{queue}{PRIORITY_SEP}{p}" for p in PRIORITY_STEPS]
            pipe = broker.pipeline(transaction=False)
            for key in keys:
                pipe.llen(key)
                pipe.lindex(key, -1)  # LPUSH in, BRPOP out: the tail waited longest
            replies = pipe.execute()
            depth.add_metric([queue], sum(replies[0::2]))
            oldest = 0.0
            for raw in replies[1::2]:
                if raw is not None:
                    oldest = max(oldest, self._message_age(raw, now, shared_redis))
            age.add_metric([queue], oldest)
        yield depth
        yield age

    def _message_age(self, raw: bytes, now: float, shared_redis) -> float:
        try:
            headers = json.loads(raw).get("headers") or {}
        except ValueError:
            return 0.0
        task_id = headers.get("id")
        if not task_id:
            return 0.0
        job = Job.objects.filter(task_id=task_id).values_list("sent_at", "created_at").first()
        if job is not None:
            return _seconds(timezone.now() - (job[0] or job[1]))
        # No row yet: the first scrape that saw this message dates it (kept past any queue wait).
        key = FIRST_SEEN_KEY.format(task_id)
        shared_redis.set_new(key, repr(now), 24 * 3600)
        first = shared_redis.get(key)
        return max(now - float(first), 0.0) if first else 0.0

    def _beat(self):
        last = cache.get(BEAT_HEARTBEAT_KEY)
        age = math.inf if last is None else max(time.time() - float(last), 0.0)
        yield GaugeMetricFamily(
            "backroom_beat_last_tick_age_seconds",
            "Seconds since beat's last tick (+Inf: no heartbeat at all)",
            value=age,
        )

    def _workers(self):
        replies = app.control.ping(timeout=settings.METRICS_PING_TIMEOUT) or []
        groups: Counter = Counter()
        for reply in replies:
            for name in reply:
                groups[name.split("@", 1)[0]] += 1
        family = GaugeMetricFamily(
            "backroom_workers_online",
            f"Workers that answered a ping within {settings.METRICS_PING_TIMEOUT} s, by name before @",
            labels=["group"],
        )
        for group, n in sorted(groups.items()):
            family.add_metric([group], n)
        yield family
        yield GaugeMetricFamily(
            "backroom_workers_online_total", "Workers that answered a ping", value=len(replies)
        )


def scrape() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobCollector())
    return generate_latest(registry)
