"""How throughput scales with processes and clients (issue 17, item 4), on this machine's cores.

For information, not targets: the curves depend on the cores the machine has (os.cpu_count() is in
results.json), so each figure's baseline is the same path at its smallest size (one process, one
client) or the bare view at the same size, and the ratio says how far the extra processes or
clients carried it.
"""

from __future__ import annotations

import threading
import time

from tests import loadgen

from . import measures_core
from .context import Context, unthrottled
from .images import photos
from .stats import Result, median

FAST_SIZES = (1, 2, 4)
CLIENT_COUNTS = (1, 5, 20)


def fast_worker_scaling(ctx: Context) -> list[Result]:
    """No-op jobs/s through the whole path (row, send on commit, STARTED/SUCCESS, TaskResult) on
    worker_fast with 1, 2 and 4 pool processes; the baseline of each is the 1-process figure."""
    s = ctx.sizes
    rates: dict[int, list[float]] = {}
    for n in FAST_SIZES:
        with ctx.worker("worker_fast", concurrency=n):
            measures_core._run_ours(ctx, f"bench.scale.warm.{n}", 20)
            rates[n] = [
                s.scaling_jobs / measures_core._run_ours(ctx, f"bench.scale.{n}.{r}", s.scaling_jobs)
                for r in range(s.rounds)
            ]
    one = median(rates[1])
    out = []
    for n in FAST_SIZES:
        value = median(rates[n])
        out.append(
            Result(
                name=f"fast_worker_jobs_per_s[{n}]",
                value=value,
                baseline=None if n == 1 else one,
                ratio=None if n == 1 else value / one,
                unit="jobs/s",
                target="info",
                rounds=[{"value": v} for v in rates[n]],
                note=(
                    f"{s.scaling_jobs} no-op jobs a round sent from one process, "
                    f"worker_fast --concurrency {n}; the ratio is the speed-up over one process"
                ),
            )
        )
    return out


def _uploaders(n: int) -> list[str]:
    """Session cookies of ``n`` people, each with a staff override (as the admin sets one) that lets
    a burst through: the throttle and the quota are still counted and checked on every upload."""
    from .measures_growth import _session

    cookies = []
    for i in range(n):
        user, cookie = _session(f"bench-uploader-{i}")
        unthrottled(user)
        cookies.append(cookie)
    return cookies


def _burst(
    ctx: Context, path: str, body: bytes, headers: dict, cookies: list[str], total: int, expect
) -> float:
    """``total`` uploads from one thread per cookie, each on its own connection: uploads/s."""
    errors: list[str] = []
    left = iter(range(total))
    lock = threading.Lock()

    def client(cookie: str) -> None:
        conn = ctx.connection()
        try:
            while True:
                with lock:
                    if next(left, None) is None:
                        return
                ctx.timed(conn, "POST", path, body, expect=expect, Cookie=cookie, **headers)
        except Exception as exc:  # reported below: a failed client invalidates the round
            errors.append(repr(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in cookies]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} upload client(s) failed: {errors[0]}")
    return total / took


def upload_scaling(ctx: Context) -> list[Result]:
    """POST /media/upload/ per second from 1, 5 and 20 concurrent clients vs the bare store view
    (/bench/bare-upload/) from as many, bursts alternating; nothing consumes the media queue."""
    s = ctx.sizes
    photo = photos()["12mp.jpg"]
    body, content_type = loadgen.multipart("image", "photo.jpg", photo.path.read_bytes())
    headers = {"Content-Type": content_type}
    web = ctx.web()
    cookies = _uploaders(max(CLIENT_COUNTS))
    out = []
    try:
        _burst(ctx, "/media/upload/", body, headers, cookies[:3], 6, (202,))  # warm-up
        _burst(ctx, "/bench/bare-upload/", body, headers, cookies[:3], 6, (201,))
        for n in CLIENT_COUNTS:
            pairs = []
            for _ in range(s.rounds):
                ours = _burst(ctx, "/media/upload/", body, headers, cookies[:n], s.scaling_uploads, (202,))
                bare = _burst(
                    ctx, "/bench/bare-upload/", body, headers, cookies[:n], s.scaling_uploads, (201,)
                )
                pairs.append((ours, bare))
                ctx.purge("media")
            ratios = [a / b for a, b in pairs]
            out.append(
                Result(
                    name=f"uploads_per_s[{n}]",
                    value=median([a for a, _ in pairs]),
                    baseline=median([b for _, b in pairs]),
                    ratio=median(ratios),
                    unit="uploads/s",
                    target="info",
                    rounds=[{"value": a, "baseline": b, "ratio": a / b} for a, b in pairs],
                    note=(
                        f"{s.scaling_uploads} uploads of a {len(body) / 1e6:.1f} MB JPEG a burst from {n} "
                        f"client(s), one person each, against the bare store view from as many; gunicorn of "
                        f"{web.processes} processes"
                    ),
                )
            )
    finally:
        ctx.purge("media")
    return out
