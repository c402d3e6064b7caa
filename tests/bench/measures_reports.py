"""Measures of Excel exports (reports): speed against bare openpyxl, and the worker's memory.

Rows come from the database: Image rows made with bulk_create for two bench users (50k and 200k
rows; 1M more in --full). Peak RSS is the kernel's high-water mark (VmHWM) of the reports pool
processes: reset to the current RSS just before the export is sent (/proc/<pid>/clear_refs), read
once it is done. That catches a peak that lasts a millisecond, which sampling could miss, and
needs nothing in the task. The idle pool process stays at its resting size, so the largest
high-water mark is the exporting one's.
"""

from __future__ import annotations

import gc
import random
import shutil
import time
from datetime import UTC, datetime, timedelta

from .context import Context
from .stack import BENCH_DIR, reset_hwm, vm_hwm_kb
from .stats import Result, median, paired

OUT_DIR = BENCH_DIR / "bare-xlsx"
WORDS = "harbour dawn alpine meadow city night market river forest coast winter summer portrait".split()


def make_rows(username: str, n: int):
    """``n`` media_app Image rows for a user of their own (deterministic values)."""
    from django.contrib.auth import get_user_model

    from media_app.models import Image

    user, _ = get_user_model().objects.get_or_create(username=username)
    have = Image.objects.filter(owner=user).count()
    rng = random.Random(n)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    batch = []
    for i in range(have, n):
        w, h = rng.choice([(4000, 3000), (6000, 4000), (3000, 4000), (1800, 1200)])
        bytes_in = rng.randint(800_000, 12_000_000)
        batch.append(
            Image(
                owner=user,
                title=f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i}",
                original=f"media/originals/{user.pk}/{i:08d}.jpg",
                original_format="JPEG",
                original_width=w,
                original_height=h,
                original_bytes=bytes_in,
                state=Image.State.READY,
                bytes_in=bytes_in,
                bytes_out=bytes_in // rng.randint(3, 9),
                processing_ms=rng.randint(300, 3000),
                created_at=start + timedelta(seconds=37 * i),
            )
        )
        if len(batch) == 5000:
            Image.objects.bulk_create(batch)
            batch = []
    if batch:
        Image.objects.bulk_create(batch)
    return user


def export_once(ctx: Context, user, worker, format: str = "xlsx") -> tuple[float, int, int]:
    """One export through the service on the reports worker: (rows/s, rows, peak RSS kB)."""
    from reports import services
    from reports.models import Export

    from .measures_media import wait_job

    children = worker.pool_children()
    for child in children:
        reset_hwm(child.pid)
    export = services.export_request(user=user, kind=Export.Kind.MEDIA_INVENTORY, format=format)
    job = wait_job(export.job.task_id, timeout=1800)
    export.refresh_from_db()
    peak = 0
    for child in children:
        try:
            peak = max(peak, vm_hwm_kb(child.pid))
        except OSError:
            pass  # replaced meanwhile (max tasks per child): its peak is lost
    seconds = (job.finished_at - job.started_at).total_seconds()
    return export.rows / seconds, export.rows, peak


def source_rows(user) -> list[tuple]:
    """The export's rows, as the worker writes them, materialised in a list (for the baselines)."""
    from django.utils import timezone

    from reports import selectors
    from reports.models import Export

    export = Export(owner=user, kind=Export.Kind.MEDIA_INVENTORY)
    _report, _total, rows = selectors.export_source(export)
    tz = timezone.get_current_timezone()
    out = []
    for row in rows:
        row = list(row)
        row[-1] = row[-1].astimezone(tz).replace(tzinfo=None)
        out.append(tuple(row))
    return out


def frozen_heap(fn):
    """Run a baseline with this process's heap (Django, the row list) out of the garbage collector's
    way, as a worker's small heap is; otherwise every collection would walk the 200k rows and make
    the baseline look slower than it is."""

    def run(*args):
        gc.collect()
        gc.freeze()
        try:
            return fn(*args)
        finally:
            gc.unfreeze()

    return run


@frozen_heap
def bare_openpyxl(rows: list[tuple]) -> float:
    """openpyxl write-only, plain values, no styles: rows/s."""
    from openpyxl import Workbook

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Media inventory")
    for row in rows:
        ws.append(row)
    wb.save(OUT_DIR / "openpyxl.xlsx")
    return len(rows) / (time.perf_counter() - t0)


@frozen_heap
def peer_xlsxwriter(rows: list[tuple]) -> float:
    import xlsxwriter

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    wb = xlsxwriter.Workbook(str(OUT_DIR / "xlsxwriter.xlsx"), {"constant_memory": True})
    ws = wb.add_worksheet("Media inventory")
    when = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    last = len(rows[0]) - 1
    write_row, write_datetime = ws.write_row, ws.write_datetime
    for i, row in enumerate(rows):
        write_row(i, 0, row[:last])
        write_datetime(i, last, row[last], when)
    wb.close()
    return len(rows) / (time.perf_counter() - t0)


@frozen_heap
def peer_rustpy(rows: list[tuple]) -> float:
    import rustpy_xlsxwriter

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    keys = ("title", "format", "width", "height", "bytes_in", "bytes_out", "saving", "state", "created_at")
    # Its input is records (dicts): made before the clock starts.
    records = [dict(zip(keys, row, strict=True)) for row in rows]
    t0 = time.perf_counter()
    rustpy_xlsxwriter.write_worksheet(records, str(OUT_DIR / "rustpy.xlsx"), sheet_name="Media inventory")
    return len(rows) / (time.perf_counter() - t0)


def export_all(ctx: Context) -> list[Result]:
    s = ctx.sizes
    t0 = time.monotonic()
    small = make_rows("bench-export-small", s.export_small_rows)
    big = make_rows("bench-export-big", min(s.export_rows, 200_000))
    huge = make_rows("bench-export-huge", s.export_rows) if s.export_rows > 200_000 else None
    made = time.monotonic() - t0
    rows = source_rows(big)
    pairs, peaks_big, peaks_small, peaks_huge = [], [], [], []
    peers: dict[str, list[tuple[float, float]]] = {"xlsxwriter": [], "rustpy-xlsxwriter": []}
    with ctx.worker("worker_reports") as worker:
        export_once(ctx, small, worker)  # warm-up: imports in the pool process
        for _ in range(s.export_rounds):
            ours, _n, peak = export_once(ctx, big, worker)
            bare = bare_openpyxl(rows)
            pairs.append((ours, bare))
            peaks_big.append(peak)
            _r, _n, peak = export_once(ctx, small, worker)
            peaks_small.append(peak)
            for name, fn in (("xlsxwriter", peer_xlsxwriter), ("rustpy-xlsxwriter", peer_rustpy)):
                try:
                    peers[name].append((fn(rows), bare))
                except Exception as exc:  # a peer that cannot run is reported, not fatal
                    peers[name] = []
                    print(f"bench:   peer {name}: n/a ({type(exc).__name__}: {exc})", flush=True)
        if huge is not None:
            _r, _n, peak = export_once(ctx, huge, worker)
            peaks_huge.append(peak)
    shutil.rmtree(OUT_DIR, ignore_errors=True)

    big_n = len(rows)
    results = [
        paired(
            "export_vs_bare_openpyxl",
            pairs,
            unit="rows/s",
            target=">= 0.8",
            note=(
                f"{big_n:,} media_inventory rows from the database on worker_reports vs openpyxl "
                f"write-only from a list; {s.export_rounds} rounds; rows made in {made:.0f} s"
            ),
        )
    ]
    peak_rows = s.export_rows if huge is not None else big_n
    peak = median(peaks_huge or peaks_big) / 1024
    results.append(
        Result(
            name="export_peak_rss_mb",
            value=peak,
            unit="MB",
            target="< 200",
            rounds=[{"value": p / 1024} for p in (peaks_huge or peaks_big)],
            note=f"peak RSS (VmHWM) of the reports pool process exporting {peak_rows:,} rows",
        ).judge()
    )
    small_peak = median(peaks_small) / 1024
    results.append(
        Result(
            name="export_rss_growth",
            value=peak / small_peak,
            unit="×",
            target="<= 1.2",
            note=(
                f"peak at {peak_rows:,} rows {peak:.0f} MB ÷ at {s.export_small_rows:,} rows "
                f"{small_peak:.0f} MB"
            ),
        ).judge()
    )
    for name, prs in peers.items():
        if not prs:
            results.append(
                Result(
                    name=f"peer_{name}_vs_bare_openpyxl",
                    value=None,
                    unit="rows/s",
                    target="info",
                    note="n/a: could not run (see the log above)",
                )
            )
            continue
        r = paired(f"peer_{name}_vs_bare_openpyxl", prs, unit="rows/s", target=">= 0")
        r.target, r.holds = "info", None
        results.append(r)
    return results


# --- CSV (issue 16.1) --------------------------------------------------------------------------------


def db_rows(user) -> list[tuple]:
    """The export's rows exactly as the database hands them to the writer (aware UTC datetimes)."""
    from reports import selectors
    from reports.models import Export

    _report, _total, rows = selectors.export_source(Export(owner=user, kind=Export.Kind.MEDIA_INVENTORY))
    return list(rows)


@frozen_heap
def ours_csv(rows: list[tuple]) -> float:
    """reports.csvfile over the rows, into a real file, in a zone that needs converting: rows/s."""
    from zoneinfo import ZoneInfo

    from reports import csvfile, layouts

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(OUT_DIR / "ours.csv", "wb") as fh:
        csvfile.write_csv(
            fh, columns=layouts.MEDIA_INVENTORY.columns, rows=iter(rows), tz=ZoneInfo("Europe/Berlin")
        )
    return len(rows) / (time.perf_counter() - t0)


@frozen_heap
def bare_csv(rows: list[tuple]) -> float:
    """A bare csv.writer loop over the same rows, into a real file: rows/s."""
    import csv

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(OUT_DIR / "bare.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        for row in rows:
            writer.writerow(row)
    return len(rows) / (time.perf_counter() - t0)


def csv_all(ctx: Context) -> list[Result]:
    """Our CSV writer against a bare csv.writer loop over the same rows (the held figure), and the
    whole export on the worker (database read included) with its peak memory."""
    s = ctx.sizes
    small = make_rows("bench-export-small", s.export_small_rows)
    big = make_rows("bench-export-big", min(s.export_rows, 200_000))
    huge = make_rows("bench-export-huge", s.export_rows) if s.export_rows > 200_000 else None
    rows = db_rows(big)
    pairs = []
    for _ in range(max(3, s.rounds)):
        pairs.append((ours_csv(rows), bare_csv(rows)))
    del rows
    ends, peaks, small_peaks = [], [], []
    with ctx.worker("worker_reports") as worker:
        export_once(ctx, small, worker, format="csv")  # warm-up
        for _ in range(s.export_rounds):
            rate, _n, peak = export_once(ctx, big, worker, format="csv")
            ends.append(rate)
            peaks.append(peak)
            _r, _n, peak = export_once(ctx, small, worker, format="csv")
            small_peaks.append(peak)
        if huge is not None:
            _r, _n, peak = export_once(ctx, huge, worker, format="csv")
            peaks = [peak]
    shutil.rmtree(OUT_DIR, ignore_errors=True)
    peak_rows = s.export_rows if huge is not None else min(s.export_rows, 200_000)
    results = [
        paired(
            "csv_writer_vs_bare_csv",
            pairs,
            unit="rows/s",
            target=">= 0.8",
            note=(
                f"reports.csvfile (formula guard, control characters, times to Europe/Berlin) vs a bare "
                f"csv.writer loop, both over the same {min(s.export_rows, 200_000):,} media_inventory rows "
                "as the database hands them, into a file"
            ),
        ),
        Result(
            name="csv_export_rows_per_s",
            value=median(ends),
            unit="rows/s",
            target="info",
            rounds=[{"value": v} for v in ends],
            note="the whole CSV export on worker_reports: database read, writer, storage",
        ).judge(),
        Result(
            name="csv_export_peak_rss_mb",
            value=median(peaks) / 1024,
            unit="MB",
            target="< 200",
            rounds=[{"value": p / 1024} for p in peaks],
            note=f"peak RSS (VmHWM) of the reports pool process exporting {peak_rows:,} rows to CSV",
        ).judge(),
        Result(
            name="csv_export_rss_growth",
            value=median(peaks) / median(small_peaks),
            unit="×",
            target="<= 1.2",
            note=f"peak at {peak_rows:,} rows ÷ at {s.export_small_rows:,} rows",
        ).judge(),
    ]
    return results
