"""Pushed job status (issue 21, item 3): 500 event streams open at once on the Procfile's web server.

The web server's memory (RSS, summed over gunicorn and its workers) and thread count with no
watcher and with 500, and the p99 from a job's change (the service call that writes and publishes
it, in this process) to its event arriving at each of the 500 watchers, over loopback.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid

import psutil

from .context import Context
from .stats import Result, percentile, single

WATCHERS = 500
CHANGES = 20  # progress changes per round, one every CHANGE_EVERY seconds
CHANGE_EVERY = 0.1


def _server_figures(web) -> tuple[float, int]:
    procs = [psutil.Process(web.pid), *psutil.Process(web.pid).children(recursive=True)]
    return sum(p.memory_info().rss for p in procs) / 2**20, sum(p.num_threads() for p in procs)


class Watchers:
    """WATCHERS streams on one event loop in a thread of this process; arrival times per change."""

    def __init__(self, port: int, cookie: str, task_id: str) -> None:
        self.port, self.cookie, self.task_id = port, cookie, task_id
        self.arrivals: dict[int, list[float]] = {}
        self.open = 0
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.tasks = []

    async def _watch(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(
                (
                    f"GET /tasks/stream/?ids={self.task_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Cookie: {self.cookie}\r\nAccept: text/event-stream\r\n\r\n"
                ).encode()
            )
            await writer.drain()
            status = await reader.readline()
            if b" 200 " not in status:
                raise RuntimeError(status)
            counted = False
            while True:
                line = await reader.readline()
                if not line:
                    return
                if not counted and line.startswith(b"retry:"):
                    counted = True
                    with self.lock:
                        self.open += 1
                if line.startswith(b"data: {") and b'"progress"' in line:
                    now = time.perf_counter()
                    progress = json.loads(line[6:]).get("progress")
                    if progress:
                        with self.lock:
                            self.arrivals.setdefault(progress["current"], []).append(now)
        finally:
            writer.close()

    async def _guarded(self) -> None:
        try:
            await self._watch()
        except asyncio.CancelledError:
            pass
        except Exception as exc:
            with self.lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def start(self, timeout: float = 60) -> Watchers:
        self.thread.start()

        async def spawn():
            return [asyncio.create_task(self._guarded()) for _ in range(WATCHERS)]

        self.tasks = asyncio.run_coroutine_threadsafe(spawn(), self.loop).result(10)
        deadline = time.monotonic() + timeout
        while self.open < WATCHERS and time.monotonic() < deadline:
            if self.errors:
                raise RuntimeError(f"{len(self.errors)} watcher(s) failed: {self.errors[:3]}")
            time.sleep(0.1)
        if self.open < WATCHERS:
            raise RuntimeError(f"only {self.open} of {WATCHERS} streams open after {timeout} s")
        return self

    def stop(self) -> None:
        for task in self.tasks:
            self.loop.call_soon_threadsafe(task.cancel)
        time.sleep(0.5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def watchers(ctx: Context) -> list[Result]:
    from config.core import services
    from config.core.devredis import free_port
    from config.core.models import Job

    from .stack import Web

    cookie = f"sessionid={ctx.session_cookie}"
    web = Web(free_port(), label="web-push", WEB_CONCURRENCY="2", PUSH_STREAM_LIFETIME="600")
    ctx._procs.append(web)
    web.start()
    rss_idle, rss_busy, threads_idle, threads_busy, p99s, p50s = [], [], [], [], [], []
    try:
        for _ in range(ctx.sizes.rounds):
            job = Job.objects.create(
                task_id=str(uuid.uuid4()), owner=ctx.user, kind="bench-push", task_name="bench.push"
            )
            services.job_start(task_id=job.task_id, task_name=job.task_name)
            time.sleep(1)
            mb, threads = _server_figures(web)
            rss_idle.append(mb)
            threads_idle.append(threads)
            crowd = Watchers(web.port, cookie, job.task_id).start()
            try:
                time.sleep(1)
                mb, threads = _server_figures(web)
                rss_busy.append(mb)
                threads_busy.append(threads)
                changed = {}
                for i in range(1, CHANGES + 1):
                    changed[i] = time.perf_counter()
                    services.job_progress(task_id=job.task_id, current=i, total=CHANGES)
                    time.sleep(CHANGE_EVERY)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    with crowd.lock:
                        if sum(len(v) for v in crowd.arrivals.values()) >= WATCHERS * CHANGES:
                            break
                    time.sleep(0.1)
                with crowd.lock:
                    got = sum(len(v) for v in crowd.arrivals.values())
                    if got < WATCHERS * CHANGES:
                        raise RuntimeError(f"{got} of {WATCHERS * CHANGES} events arrived within 30 s")
                    latencies = [
                        (t - changed[i]) * 1000 for i, times in crowd.arrivals.items() for t in times
                    ]
                p99s.append(percentile(latencies, 99))
                p50s.append(percentile(latencies, 50))
            finally:
                crowd.stop()
            services.job_finish(task_id=job.task_id, state=Job.State.SUCCESS, result={})
    finally:
        web.stop()
        ctx._procs.remove(web)
    note = f"{WATCHERS} streams on loopback, web server of 2 processes"
    return [
        # No target: the issue asks for the figure; on a shared 2-CPU machine the 500 watchers' own
        # reading (this process) competes with the server for the same CPUs.
        single("push_event_p99_ms", p99s, unit="ms", target="info", note=f"{note}, {CHANGES} changes each"),
        single("push_event_p50_ms", p50s, unit="ms", target="info", note=f"{note}, {CHANGES} changes each"),
        single("push_web_rss_idle_mb", rss_idle, unit="MB", target="info", note="no watcher"),
        single("push_web_rss_500_watchers_mb", rss_busy, unit="MB", target="info", note=note),
        single("push_web_threads_idle", threads_idle, unit="threads", target="info", note="no watcher"),
        single("push_web_threads_500_watchers", threads_busy, unit="threads", target="info", note=note),
    ]
