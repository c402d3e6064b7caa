"""Measures of the foundation: task throughput, enqueue latency, status polling under load."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime

from .context import Context
from .stats import Result, median, paired, percentile, single

JOB_WAIT = 180


def _submit_ours(ctx: Context, kind: str, n: int) -> None:
    from django.db import transaction

    from config.core.services import job_create

    for _ in range(n):
        with transaction.atomic():
            job_create(owner=ctx.user, kind=kind, task_name="bench.noop")


def _wait_ours(kind: str, n: int) -> datetime:
    """Wait until ``n`` jobs of ``kind`` succeeded; return when the last one finished."""
    from django.db.models import Max

    from config.core.models import Job

    deadline = time.monotonic() + JOB_WAIT
    while time.monotonic() < deadline:
        jobs = Job.objects.filter(kind=kind)
        if jobs.filter(state=Job.State.SUCCESS).count() >= n:
            return jobs.aggregate(last=Max("finished_at"))["last"]
        failed = jobs.filter(state=Job.State.FAILURE).first()
        if failed:
            raise RuntimeError(f"bench job failed: {failed.error}")
        time.sleep(0.2)
    raise RuntimeError(f"{kind}: not all {n} jobs finished in {JOB_WAIT}s")


def _run_ours(ctx: Context, tag: str, n: int) -> float:
    """Seconds from the first job written to the last job's SUCCESS."""
    t0 = time.time()
    _submit_ours(ctx, tag, n)
    last = _wait_ours(tag, n)
    return last.timestamp() - t0


def _run_bare(ctx: Context, tag: str, n: int) -> float:
    """Seconds from the first apply_async to the last task's end."""
    from . import bare_celery

    r = ctx.redis()
    key = f"bench:bare:{tag}"
    t0 = time.time()
    for _ in range(n):
        bare_celery.noop.apply_async(args=[key])
    deadline = time.monotonic() + JOB_WAIT
    while time.monotonic() < deadline:
        if int(r.get(key) or 0) >= n:
            return float(r.get(f"{key}:last")) - t0
        time.sleep(0.05)
    raise RuntimeError(f"bare celery: not all {n} tasks ran in {JOB_WAIT}s")


def throughput_pairs(ctx: Context, tag: str, *, batches: int, batch: int) -> list[tuple[float, float]]:
    """(ours, bare) jobs/s for ``batches`` back-to-back pairs of batches.

    The machine's load changes from second to second (2 shared cores), so the two sides take
    turns in short batches and each pair is judged on its own; a stall in one batch (a busy
    neighbour, Redis' 1 s BRPOP cycle) then spoils one pair, not a whole round.
    """
    pairs = []
    for i in range(batches):
        ours = batch / _run_ours(ctx, f"bench.tp.{tag}.{i}", batch)
        bare = batch / _run_bare(ctx, f"tp.{tag}.{i}", batch)
        pairs.append((ours, bare))
    return pairs


def task_throughput(ctx: Context) -> list[Result]:
    """No-op jobs/s through the whole path vs plain Celery, both on worker_fast's Procfile flags.

    Ours: job row written and sent on commit from this process, STARTED/SUCCESS on the row,
    TaskResult row, events on. Bare: apply_async to a Django-free Celery app without a result backend.
    Each batch is timed from its first send to its last task's end, so the producer is included.
    """
    s = ctx.sizes
    with (
        ctx.worker("worker_fast"),
        ctx.worker("worker_fast", app="tests.bench.bare_celery", queues="bench-bare"),
    ):
        # Warm up: pool children import, connect to the database and the broker.
        throughput_pairs(ctx, "warm", batches=1, batch=20)
        pairs = throughput_pairs(ctx, "run", batches=s.throughput_batches, batch=s.throughput_batch)
    return [
        paired(
            "task_throughput_vs_bare_celery",
            pairs,
            unit="jobs/s",
            target=">= 0.5",
            note=(
                f"{s.throughput_batches} alternating pairs of batches of {s.throughput_batch} no-op "
                "jobs; worker_fast's Procfile flags"
            ),
        )
    ]


def enqueue_latency(ctx: Context) -> list[Result]:
    """p99 of job_create + send on commit vs a bare apply_async, calls interleaved one by one.

    No worker consumes meanwhile (the queues are emptied afterwards), so nothing else competes.
    """
    from django.db import transaction

    from config.core.services import job_create

    from . import bare_celery

    s = ctx.sizes

    def ours() -> float:
        t0 = time.perf_counter()
        with transaction.atomic():
            job_create(owner=ctx.user, kind="bench.enqueue", task_name="bench.noop")
        return time.perf_counter() - t0

    def bare() -> float:
        t0 = time.perf_counter()
        bare_celery.noop.apply_async(args=["bench:bare:enqueue"])
        return time.perf_counter() - t0

    try:
        for _ in range(20):
            ours(), bare()
        pairs = []
        for _ in range(s.rounds):
            a, b = [], []
            for _ in range(s.enqueue_calls):
                a.append(ours())
                b.append(bare())
            pairs.append((percentile(a, 99) * 1000, percentile(b, 99) * 1000))
    finally:
        ctx.purge("default", bare_celery.QUEUE)
    return [
        paired(
            "enqueue_p99_vs_bare_send",
            pairs,
            unit="ms",
            target="<= 3.0",
            note=f"{s.enqueue_calls} calls each per round, interleaved",
        )
    ]


class MediaLoad:
    """Keeps both media worker processes busy: tops the media queue up while a measure runs."""

    def __init__(self, ctx: Context, make_task) -> None:
        self.ctx = ctx
        self.make_task = make_task
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._feed, daemon=True)
        self.sent = 0
        self.error: BaseException | None = None

    def _feed(self) -> None:
        from django.db import connection

        r = self.ctx.redis()
        try:
            while not self._stop.is_set():
                if r.llen("media") < 4:
                    self.make_task()
                    self.sent += 1
                else:
                    time.sleep(0.05)
        except BaseException as exc:  # raised again when the measure ends
            self.error = exc
        finally:
            connection.close()

    def check(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"the media load stopped: {self.error!r}") from self.error

    def __enter__(self) -> MediaLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.ctx.purge("media")
        self.check()


def burn_task(ctx: Context):
    from config.celery_app import app

    def send() -> None:
        app.send_task("bench.burn", kwargs={"seconds": 0.5}, queue="media")

    return send


def status_latency(ctx: Context, make_media_task=None, load_label: str = "CPU-burning tasks") -> list[Result]:
    """p99 of GET /tasks/<id>/ vs a constant JSON view, 20 pollers, both media processes busy.

    Pollers wait poll_after_ms (500 ms while a job runs) between requests, as core/app.js does.
    Both views sit behind the same middleware and are reached with the same session cookie.
    """
    import psutil
    from django.utils import timezone

    from config.core.models import Job

    s = ctx.sizes
    job = Job.objects.create(
        task_id=str(uuid.uuid4()),
        owner=ctx.user,
        kind="bench.status",
        task_name="bench.noop",
        state=Job.State.PROGRESS,
        progress_current=40,
        progress_total=100,
        started_at=timezone.now(),
    )
    ctx.web()
    ours_path, bare_path = f"/tasks/{job.task_id}/", "/bench/constant/"
    public_path = "/bench/constant-public/"
    interval = 0.5
    pairs, public = [], []
    busy = []
    with ctx.worker("worker_media") as media:
        make = make_media_task or burn_task(ctx)
        with MediaLoad(ctx, make) as load:
            time.sleep(3)  # both processes picked a task
            # Warm-up: every gunicorn worker thread has imported its views and opened its connection.
            ctx.pollers(
                [ours_path, bare_path, public_path], count=s.status_pollers, seconds=2, interval=interval
            )
            children = media.pool_children()
            for c in children:
                c.cpu_percent(None)
            for _ in range(s.rounds):
                got = ctx.pollers(
                    # The constant view without login is for information: asked half as often.
                    [ours_path, bare_path, public_path, bare_path, ours_path],
                    count=s.status_pollers,
                    seconds=s.status_seconds,
                    interval=interval,
                )
                load.check()
                pairs.append((percentile(got[ours_path], 99) * 1000, percentile(got[bare_path], 99) * 1000))
                public.append(percentile(got[public_path], 99) * 1000)
            for c in children:
                try:
                    busy.append(c.cpu_percent(None))
                except psutil.NoSuchProcess:
                    pass
    # The job row stays: the database is thrown away with the run (deleting it would cascade).
    result = paired(
        "status_p99_vs_bare_view",
        pairs,
        unit="ms",
        target="<= 2.0",
        note=(
            f"{s.status_pollers} pollers every {interval * 1000:.0f} ms, each alternating between "
            f"the status view, the constant view and the constant view without login, "
            f"{s.status_seconds:.0f} s per round; media pool CPU % meanwhile "
            f"{[round(x) for x in busy]} ({load_label}); constant view without the login check: "
            f"p99 {median(public):.1f} ms"
        ),
    )
    # Issue 8's absolute figure: the status answer stays under 50 ms at p99 while the media
    # workers are busy (a timed figure, so it lives here and not in `make test`).
    absolute = single(
        "status_p99_while_busy_ms",
        [a for a, _ in pairs],
        unit="ms",
        target="< 50",
        note=f"p99 of GET /tasks/<id>/ with {s.status_pollers} pollers, both media workers busy",
    )
    return [result, absolute]
