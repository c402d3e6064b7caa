"""How the cost grows with the work (issue 17): big tables against small ones, in the same run.

Rows are made by the database itself (tests/bench/seed.py), at the issue's sizes times
BENCH_SCALE (--small: 1 %). Each curve compares the same request or job on the big table with the
small one; where both can live side by side (two owners' galleries) the requests alternate, where
the table must grow in between (job rows) the small side is measured first and the constant JSON
view is polled beside it at both sizes, so the note shows whether the machine itself drifted.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import measures_reports
from .context import Context
from .seed import hex_id, moment, pick, seed, text
from .stack import BENCH_DIR, Process, child_env
from .stats import Result, median, paired, percentile, single

CONSTANT = "/bench/constant/"
INTERVAL = 0.25  # between one poller's requests


def _p99s(ctx: Context, paths: list[str], *, rounds: int, headers=None) -> dict[str, list[float]]:
    """Per path, the p99 (ms) of each round of 8 alternating pollers."""
    s = ctx.sizes
    ctx.pollers(paths, count=8, seconds=1.5, interval=INTERVAL, headers=headers)  # warm-up
    out: dict[str, list[float]] = {p: [] for p in paths}
    for _ in range(rounds):
        got = ctx.pollers(paths, count=8, seconds=s.growth_seconds, interval=INTERVAL, headers=headers)
        for p in paths:
            out[p].append(percentile(got[p], 99) * 1000)
    return out


# --- /tasks/<id>/ with 1M job rows against 10k ------------------------------------------------------


def seed_jobs(owner_id: int, n: int, first: int) -> float:
    from config.core.models import Job

    start = datetime(2025, 1, 1, tzinfo=UTC)
    return seed(
        Job,
        n,
        {
            "task_id": hex_id("i", salt=17),
            "owner_id": str(owner_id),
            "kind": pick("i", ["media.compress", "reports.export", "mydata.archive"]),
            "task_name": pick("i", ["media_app.compress_image", "reports.build_export", "mydata.archive"]),
            "state": pick("i", ["SUCCESS", "SUCCESS", "SUCCESS", "FAILURE"]),
            "created_at": moment(start, "i * 30"),
            "sent_at": moment(start, "i * 30"),
            "started_at": moment(start, "i * 30 + 1"),
            "finished_at": moment(start, "i * 30 + 4"),
            "updated_at": moment(start, "i * 30 + 4"),
        },
        first=first,
        label="job rows",
    )


def status_growth(ctx: Context) -> list[Result]:
    """p99 of GET /tasks/<id>/ (8 pollers, idle machine) with 1M job rows ÷ with 10k."""
    from django.utils import timezone

    from config.core.models import Job

    s = ctx.sizes
    small, big = s.grown(10_000, 100), s.grown(1_000_000, 1000)
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
    ours = f"/tasks/{job.task_id}/"
    have = Job.objects.count()
    seed_jobs(ctx.user.pk, max(0, small - have), first=1)
    ctx.web()
    at_small = _p99s(ctx, [ours, CONSTANT], rounds=s.rounds)
    grow = seed_jobs(ctx.user.pk, big - Job.objects.count(), first=small + 1)
    at_big = _p99s(ctx, [ours, CONSTANT], rounds=s.rounds)
    rows = Job.objects.count()
    # The table can only grow between the two sides, so the machine may drift in between: each
    # side is the status view's p99 over the constant view's in the same rounds (same pollers).
    big_over = [a / b for a, b in zip(at_big[ours], at_big[CONSTANT], strict=True)]
    small_over = [a / b for a, b in zip(at_small[ours], at_small[CONSTANT], strict=True)]
    return [
        paired(
            "status_p99_1m_vs_10k_jobs",
            list(zip(big_over, small_over, strict=True)),
            unit="× constant view",
            target="<= 1.2",
            note=(
                f"GET /tasks/<id>/ p99 over the constant view's p99 in the same rounds, with "
                f"{rows:,} job rows "
                f"vs {small:,}; status p99 {median(at_big[ours]):.1f} vs {median(at_small[ours]):.1f} ms, "
                f"constant {median(at_big[CONSTANT]):.1f} vs {median(at_small[CONSTANT]):.1f} ms; "
                f"8 pollers every {INTERVAL * 1000:.0f} ms, {s.rounds} rounds of {s.growth_seconds:.0f} s "
                f"each side; grown in {grow:.0f} s"
            ),
        )
    ]


# --- the gallery's first page: an owner with 100k images against one with 100 ------------------


def seed_images(owner_id: int, n: int, *, start: datetime, step_seconds: float, first: int = 1) -> float:
    """``n`` READY images of one owner, one every ``step_seconds`` from ``start``."""
    from media_app.models import Image

    return seed(
        Image,
        n,
        {
            "owner_id": str(owner_id),
            "title": pick("i", measures_reports.WORDS) + " || ' ' || " + text("i"),
            "original": f"'media/originals/{owner_id}/' || " + text("i") + " || '.jpg'",
            "original_format": "'JPEG'",
            "original_width": "4000",
            "original_height": "3000",
            "original_bytes": "1000000 + (i * 7919) % 9000000",
            "state": "'READY'",
            "bytes_in": "1000000 + (i * 7919) % 9000000",
            "bytes_out": "(1000000 + (i * 7919) % 9000000) / 5",
            "processing_ms": "300 + (i * 104729) % 2700",
            "created_at": moment(start, f"i * {step_seconds}"),
            "processed_at": moment(start, f"i * {step_seconds} + 2"),
        },
        first=first,
        label=f"images of owner {owner_id}",
    )


def _session(username: str) -> tuple[object, str]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from .context import CSRF_SECRET

    user, _ = get_user_model().objects.get_or_create(username=username)
    client = Client()
    client.force_login(user)
    return user, f"sessionid={client.cookies['sessionid'].value}; csrftoken={CSRF_SECRET}"


def gallery_growth(ctx: Context) -> list[Result]:
    """p99 of the gallery's first page (HTML) for an owner with 100k images ÷ one with 100, the two
    owners' requests alternating in the same pollers."""
    s = ctx.sizes
    big_n = s.grown(100_000, 1000)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    small_user, small_cookie = _session("bench-gallery-100")
    big_user, big_cookie = _session("bench-gallery-big")
    seed_images(small_user.pk, 100, start=start, step_seconds=3600)
    made = seed_images(big_user.pk, big_n, start=start, step_seconds=60)
    small_path, big_path = "/media/?owner=100", "/media/?owner=big"  # the view reads no such parameter
    html = {"Accept": "text/html"}
    headers = {small_path: {**html, "Cookie": small_cookie}, big_path: {**html, "Cookie": big_cookie}}
    ctx.web()
    got = _p99s(ctx, [small_path, big_path], rounds=s.rounds, headers=headers)
    return [
        paired(
            "gallery_p99_100k_vs_100_images",
            list(zip(got[big_path], got[small_path], strict=True)),
            unit="ms",
            target="<= 1.5",
            note=(
                f"GET /media/ (HTML, first page) for an owner with {big_n:,} images vs one with 100, "
                f"alternating in 8 pollers, {s.rounds} rounds of {s.growth_seconds:.0f} s; "
                f"seeded in {made:.0f} s"
            ),
        )
    ]


# --- the statistics job over 1M images against 100k -------------------------------------------------


def _probe(ctx: Context, what: str) -> tuple[Process, Path]:
    out = BENCH_DIR / f"probe-{what}-{time.monotonic_ns()}.json"
    env = child_env(CELERY_BROKER_URL=ctx.redis_url, REDIS_URL=ctx.redis_url)
    proc = Process(f"probe-{what}", [sys.executable, "-m", "tests.bench.probe", what, str(out)], env=env)
    return proc, out


def _probe_run(ctx: Context, what: str, timeout: float = 3600) -> dict:
    proc, out = _probe(ctx, what)
    proc.start()
    try:
        proc.proc.wait(timeout)
    finally:
        proc.stop()
    if not out.exists():
        raise RuntimeError(f"the {what} probe wrote nothing; see {proc.log_path}")
    got = json.loads(out.read_text())
    out.unlink()
    return got


def statistics_growth(ctx: Context) -> list[Result]:
    """Peak RSS of the statistics job (today's figures) over 1M of today's images ÷ over 100k."""
    from django.utils import timezone

    s = ctx.sizes
    small, big = s.grown(100_000, 1000), s.grown(1_000_000, 10_000)
    user, _ = _session("bench-statistics")
    # Today's images, spread over the first hours of today in the statistics' time zone.
    day_start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    step = 3600 * 12 / big
    seed_images(user.pk, small, start=day_start, step_seconds=step)
    at_small = _probe_run(ctx, "statistics")
    grow = seed_images(user.pk, big - small, start=day_start, step_seconds=step, first=small + 1)
    at_big = _probe_run(ctx, "statistics")
    ratio = at_big["peak_kb"] / at_small["peak_kb"]
    return [
        Result(
            name="statistics_rss_1m_vs_100k_images",
            value=at_big["peak_kb"] / 1024,
            baseline=at_small["peak_kb"] / 1024,
            ratio=ratio,
            unit="MB",
            target="<= 1.2",
            note=(
                f"peak RSS of ops.statistics' work (one day) in a process of its own over {big:,} of the "
                f"day's images vs {small:,}; {at_big['rss_before_kb'] / 1024:.0f} MB before it starts"
            ),
        ).judge(),
        Result(
            name="statistics_seconds_1m_images",
            value=at_big["seconds"],
            baseline=at_small["seconds"],
            ratio=at_big["seconds"] / at_small["seconds"],
            unit="s",
            target="info",
            note=f"the same runs' time, {big:,} vs {small:,} images; grown in {grow:.0f} s",
        ),
    ]


# --- cleanup: 1M old task results and 100k orphaned files -------------------------------------------


def seed_results(n: int) -> float:
    from django_celery_results.models import TaskResult

    old = datetime.now(UTC) - timedelta(days=60)
    return seed(
        TaskResult,
        n,
        {
            "task_id": hex_id("i", salt=99),
            "task_name": "'bench.noop'",
            "status": "'SUCCESS'",
            "content_type": "'application/json'",
            "content_encoding": "'utf-8'",
            "result": "'null'",
            "date_created": moment(old, "i / 100.0"),
            "date_started": moment(old, "i / 100.0"),
            "date_done": moment(old, "i / 100.0 + 0.01"),
        },
        label="old task results",
    )


def seed_orphans(n: int) -> float:
    """``n`` small files no row references, three days old, under the media app's folder."""
    from django.conf import settings

    t0 = time.monotonic()
    root = Path(settings.MEDIA_ROOT) / "media" / "originals" / "orphans"
    old = time.time() - 3 * 86400
    for k in range(0, n, 1000):
        folder = root / f"{k // 1000:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        for j in range(k, min(n, k + 1000)):
            path = folder / f"{j:08d}.jpg"
            path.write_bytes(b"\xff\xd8orphan\xff\xd9")
            os.utime(path, (old, old))
    seconds = time.monotonic() - t0
    print(f"bench:   made {n:,} orphaned files in {seconds:.1f} s", flush=True)
    return seconds


def _poll_while(ctx: Context, paths: list[str], alive) -> dict[str, list[float]]:
    got: dict[str, list[float]] = {p: [] for p in paths}
    while alive():
        for p, values in ctx.pollers(paths, count=8, seconds=2.0, interval=INTERVAL).items():
            got[p] += values
    return got


def cleanup_growth(ctx: Context) -> list[Result]:
    """ops.cleanup's work over 1M old task results and 100k orphaned files, in a process of its
    own: its longest statement, its time, and the status p99 while it runs ÷ idle (before and after)."""
    from django.conf import settings
    from django.utils import timezone

    from config.core.models import Job

    if not settings.STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):
        raise RuntimeError("the orphaned files are made on the file system; this run stores elsewhere")
    s = ctx.sizes
    results_n, files_n = s.grown(1_000_000, 10_000), s.grown(100_000, 1000)
    job = Job.objects.create(
        task_id=str(uuid.uuid4()),
        owner=ctx.user,
        kind="bench.status",
        task_name="bench.noop",
        state=Job.State.PROGRESS,
        started_at=timezone.now(),
    )
    ours = f"/tasks/{job.task_id}/"
    seed_results(results_n)
    seed_orphans(files_n)
    ctx.web()
    before = _p99s(ctx, [ours, CONSTANT], rounds=1)
    proc, out = _probe(ctx, "cleanup")
    started = Path(f"{out}.started")
    proc.start()
    try:
        # Its Python and Django start-up is not the cleanup: polling starts once the work does.
        while not started.exists() and proc.proc.poll() is None:
            time.sleep(0.02)
        during = _poll_while(ctx, [ours, CONSTANT], lambda: proc.proc.poll() is None)
    finally:
        proc.stop()
        started.unlink(missing_ok=True)
    if not out.exists():
        raise RuntimeError(f"the cleanup probe wrote nothing; see {proc.log_path}")
    got = json.loads(out.read_text())
    out.unlink()
    after = _p99s(ctx, [ours, CONSTANT], rounds=1)
    idle = (before[ours][0] + after[ours][0]) / 2
    busy = percentile(during[ours], 99) * 1000 if during[ours] else None
    constant_busy = f"{percentile(during[CONSTANT], 99) * 1000:.1f}" if during[CONSTANT] else "—"
    done = got["done"]
    what = (
        f"{done.get('results_purged', 0):,} task results and {done.get('orphans_deleted', 0):,} orphaned "
        f"files removed in {got['seconds']:.1f} s, {got['statements']:,} statements"
    )
    return [
        single(
            "cleanup_longest_statement_ms",
            [got["longest_ms"]],
            unit="ms",
            target="<= 200",
            note=f"{what}; longest: {got['longest_sql'][:160]}",
        ),
        single("cleanup_seconds", [got["seconds"]], unit="s", target="info", note=what),
        Result(
            name="status_p99_during_cleanup_vs_idle",
            value=busy,
            baseline=idle,
            ratio=None if busy is None else busy / idle,
            unit="ms",
            target="<= 1.5",
            note=(
                f"GET /tasks/<id>/ from 8 pollers while the cleanup ran ({len(during[ours])} requests) vs "
                f"the mean of the idle p99 before ({before[ours][0]:.1f} ms) and after "
                f"({after[ours][0]:.1f} ms); the constant view beside it: {constant_busy} ms during, "
                f"{before[CONSTANT][0]:.1f} and {after[CONSTANT][0]:.1f} ms idle"
            ),
        ).judge(),
    ]


# --- a 1M-row export ----------------------------------------------------------------------------


@measures_reports.frozen_heap
def bare_db_csv(user) -> float:
    """The export's rows streamed from the database (the same selector) into a bare csv.writer."""
    from reports import selectors
    from reports.models import Export

    measures_reports.OUT_DIR.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    _report, _total, rows = selectors.export_source(Export(owner=user, kind=Export.Kind.MEDIA_INVENTORY))
    n = 0
    with open(measures_reports.OUT_DIR / "bare-db.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        for row in rows:
            writer.writerow(row)
            n += 1
    return n / (time.perf_counter() - t0)


def export_growth(ctx: Context) -> list[Result]:
    """The whole CSV export of 1M rows on worker_reports (job, read, writer, storage) vs the same rows
    streamed into a bare csv.writer here; the XLSX export of the same rows and the peers for
    information."""
    import shutil

    s = ctx.sizes
    n = s.grown(1_000_000, 10_000)
    user, _ = _session("bench-export-million")
    made = seed_images(user.pk, n, start=datetime(2023, 1, 1, tzinfo=UTC), step_seconds=30)
    pairs, xlsx = [], []
    with ctx.worker("worker_reports") as worker:
        measures_reports.export_once(ctx, user, worker, format="csv")  # warm-up
        for _ in range(max(1, s.export_rounds)):
            ours, _rows, _peak = measures_reports.export_once(ctx, user, worker, format="csv")
            pairs.append((ours, bare_db_csv(user)))
        rate, _rows, peak = measures_reports.export_once(ctx, user, worker, format="xlsx")
        xlsx.append(rate)
    shutil.rmtree(measures_reports.OUT_DIR, ignore_errors=True)
    results = [
        paired(
            "csv_export_vs_bare_csv",
            pairs,
            unit="rows/s",
            target=">= 0.8",
            note=(
                f"{n:,} media_inventory rows: the CSV export job on worker_reports vs the same selector's "
                f"rows streamed into a bare csv.writer in one process; seeded in {made:.0f} s"
            ),
        ),
        Result(
            name="xlsx_export_1m_rows_per_s",
            value=median(xlsx),
            unit="rows/s",
            target="info",
            note=f"the XLSX export job of the same {n:,} rows, peak RSS {peak / 1024:.0f} MB",
        ),
    ]
    results += _peers(user, n)
    return results


def _peers(user, n: int) -> list[Result]:
    """XlsxWriter and rustpy-xlsxwriter over the same rows, from a list made first (for information)."""
    rows = measures_reports.source_rows(user)
    out = []
    for name, fn in (
        ("xlsxwriter", measures_reports.peer_xlsxwriter),
        ("rustpy-xlsxwriter", measures_reports.peer_rustpy),
    ):
        try:
            rate = fn(rows)
        except Exception as exc:  # a peer that cannot run is reported, not fatal
            out.append(
                Result(
                    name=f"peer_{name}_1m_rows_per_s",
                    value=None,
                    unit="rows/s",
                    target="info",
                    note=repr(exc),
                )
            )
            continue
        out.append(
            Result(
                name=f"peer_{name}_1m_rows_per_s",
                value=rate,
                unit="rows/s",
                target="info",
                note=f"{n:,} rows from a list in this process",
            )
        )
    import shutil

    shutil.rmtree(measures_reports.OUT_DIR, ignore_errors=True)
    return out
