"""What every measure shares: the settings of this run, a signed-in user, HTTP helpers, processes."""

from __future__ import annotations

import http.client
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from .stack import BENCH_DIR, Process, Web, Worker

CSRF_SECRET = "benchCsrfSecret0123456789abcdefA"  # 32 alphanumerics: a valid unmasked CSRF secret


@dataclass
class Sizes:
    """How much work each measure does; --full multiplies it."""

    full: bool = False
    rounds: int = 3
    throughput_batches: int = 15
    throughput_batch: int = 100
    enqueue_calls: int = 200
    status_seconds: float = 8.0
    status_pollers: int = 20
    load_uploads: int = 200  # issue 8's load scenario: uploads per round, from load_clients clients
    load_clients: int = 20
    upload_requests: int = 40
    export_rows: int = 200_000
    export_small_rows: int = 50_000
    export_rounds: int = 2
    rss_photos: int = 50
    compress_rounds: int = 3
    # Growth curves (issue 17): the sizes the issue names, times BENCH_SCALE.
    growth: float = 1.0
    growth_seconds: float = 6.0  # polling per round in the growth measures
    scaling_jobs: int = 600  # jobs per fast-worker size
    scaling_uploads: int = 60  # uploads per client count

    def grown(self, n: int, floor: int = 1) -> int:
        """``n`` rows at this run's growth scale, never fewer than ``floor``."""
        return max(floor, int(n * self.growth))

    @staticmethod
    def scale(default: float = 1.0) -> float:
        """BENCH_SCALE (e.g. 0.01 seeds 1 % of the growth curves' rows), else ``default``."""
        raw = os.environ.get("BENCH_SCALE", "").strip()
        return float(raw) if raw else default

    @classmethod
    def small(cls) -> Sizes:
        return cls(
            growth=cls.scale(0.01),
            growth_seconds=3.0,
            scaling_jobs=120,
            scaling_uploads=20,
            rounds=2,
            throughput_batches=4,
            throughput_batch=30,
            enqueue_calls=50,
            status_seconds=3.0,
            load_uploads=40,
            upload_requests=8,
            export_rows=20_000,
            export_small_rows=5_000,
            export_rounds=1,
            rss_photos=6,
            compress_rounds=1,
        )

    @classmethod
    def for_run(cls, full: bool) -> Sizes:
        if not full:
            return cls(growth=cls.scale())
        return cls(
            full=True,
            growth=cls.scale(),
            rounds=5,
            throughput_batches=40,
            throughput_batch=150,
            enqueue_calls=500,
            status_seconds=20.0,
            upload_requests=100,
            export_rows=1_000_000,
            export_rounds=3,
            compress_rounds=5,
        )


def unthrottled(user) -> None:
    """A staff override (as the admin sets one) that lets a measure's bursts of uploads through:
    the rate and the quota are still counted and checked on every upload, as for anyone."""
    from config.accounts.models import Allowance

    Allowance.objects.update_or_create(
        user=user, defaults={"uploads_per_minute": 1_000_000, "quota_bytes": 10**15}
    )


@dataclass
class Context:
    sizes: Sizes
    redis_url: str
    user: object = None
    session_cookie: str = ""
    _web: Web | None = None
    _procs: list[Process] = field(default_factory=list)

    def setup(self) -> None:
        from django.contrib.auth import get_user_model
        from django.test import Client

        User = get_user_model()
        self.user, _ = User.objects.get_or_create(username="bench", defaults={"email": "bench@example.com"})
        unthrottled(self.user)
        client = Client()
        client.force_login(self.user)
        self.session_cookie = client.cookies["sessionid"].value

    # --- processes ---------------------------------------------------------------------------------
    def web(self) -> Web:
        if self._web is None:
            from config.core.devredis import free_port

            self._web = Web(free_port()).start()
            self._procs.append(self._web)
        return self._web

    @contextmanager
    def worker(self, process: str, **kwargs):
        """A worker with the Procfile's flags for ``process``, stopped when the block ends."""
        name = f"{process.removeprefix('worker_')}-bench-{os.getpid()}-{time.monotonic_ns()}@%h"
        worker = Worker(process, name=name, **kwargs)
        self._procs.append(worker)
        try:
            yield worker.start()
        finally:
            worker.stop()
            self._procs.remove(worker)

    def close(self) -> None:
        for proc in reversed(self._procs):
            proc.stop()
        self._procs.clear()
        self._web = None

    # --- HTTP --------------------------------------------------------------------------------------
    def headers(self, **extra: str) -> dict[str, str]:
        return {
            "Cookie": f"sessionid={self.session_cookie}; csrftoken={CSRF_SECRET}",
            "X-CSRFToken": CSRF_SECRET,
            "Accept": "application/json",
            **extra,
        }

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.web().port, timeout=60)

    def request(
        self, conn, method: str, path: str, body: bytes | None = None, **headers
    ) -> tuple[int, bytes]:
        conn.request(method, path, body=body, headers=self.headers(**headers))
        response = conn.getresponse()
        return response.status, response.read()

    def timed(self, conn, method: str, path: str, body=None, expect=(200,), **headers) -> float:
        t0 = time.perf_counter()
        status, data = self.request(conn, method, path, body, **headers)
        elapsed = time.perf_counter() - t0
        if status not in expect:
            raise RuntimeError(f"{method} {path} answered {status}: {data[:300]!r}")
        return elapsed

    def pollers(
        self,
        paths: list[str],
        *,
        count: int,
        seconds: float,
        interval: float,
        headers: dict[str, dict[str, str]] | None = None,
    ) -> dict[str, list[float]]:
        """``count`` clients, each asking for ``paths`` in turn every ``interval`` s for ``seconds``.

        Every client alternates between the paths, so each path is measured under exactly the
        same load at the same moments. ``headers`` (per path) replace the default ones, such as
        another user's Cookie. Returns the latencies (s) per path.
        """
        headers = headers or {}
        latencies: dict[str, list[float]] = {p: [] for p in paths}
        errors: list[str] = []
        lock = threading.Lock()
        start = time.monotonic()

        def poll(i: int) -> None:
            conn = self.connection()
            mine: dict[str, list[float]] = {p: [] for p in paths}
            # Spread the first requests over one interval, as clients arriving at random would.
            time.sleep(interval * i / count)
            n = i
            try:
                while time.monotonic() - start < seconds:
                    t0 = time.monotonic()
                    path = paths[n % len(paths)]
                    mine[path].append(self.timed(conn, "GET", path, **headers.get(path, {})))
                    n += 1
                    time.sleep(max(0.0, interval - (time.monotonic() - t0)))
            except Exception as exc:  # reported below: a failed poller invalidates the round
                errors.append(repr(exc))
            finally:
                conn.close()
                with lock:
                    for p in paths:
                        latencies[p].extend(mine[p])

        threads = [threading.Thread(target=poll, args=(i,), daemon=True) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise RuntimeError(f"{len(errors)} poller(s) failed: {errors[0]}")
        return latencies

    # --- broker ------------------------------------------------------------------------------------
    def redis(self):
        import redis

        return redis.Redis.from_url(self.redis_url)

    def purge(self, *queues: str) -> None:
        self.redis().delete(*queues)


def bench_dir() -> str:
    return str(BENCH_DIR)
