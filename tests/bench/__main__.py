"""`make bench` (quick, a few minutes) and `make bench-full` (long variants).

Every figure is a ratio against a baseline measured in the same run on the same machine, in
rounds that interleave ours and the baseline; medians are reported. The run gets its own Redis
(appendonly off), a fresh SQLite file and media folder under var/bench/, real Procfile workers and
gunicorn on free ports. It prints a table and writes var/bench/results.json.

    python -m tests.bench [--full] [--only NAME[,NAME…]] [--list]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime

from .context import Sizes
from .stack import BENCH_DIR, ROOT, cpu_model
from .stats import Result, failed


def measures():
    """(name, function, unit, target) in run order; imported late, after Django is set up."""
    from . import (
        measures_core,
        measures_growth,
        measures_media,
        measures_push,
        measures_reports,
        measures_scaling,
    )

    return [
        ("enqueue_p99_vs_bare_send", measures_core.enqueue_latency, "ms", "<= 3.0"),
        ("task_throughput_vs_bare_celery", measures_core.task_throughput, "jobs/s", ">= 0.5"),
        ("status_p99_vs_bare_view", measures_media.status_latency, "ms", "<= 2.0"),
        ("load_status_p99_vs_bare_view", measures_media.load_status_latency, "ms", "<= 2.0"),
        ("upload_p99_vs_bare_upload", measures_media.upload_latency, "ms", "<= 1.5"),
        ("compress_vs_bare_pillow", measures_media.compress_time, "s", "<= 1.3"),
        ("dedup_upload_to_ready_vs_fresh", measures_media.dedup_upload_to_ready, "s", "<= 0.1"),
        ("media_worker_rss_growth", measures_media.worker_rss_growth, "×", "<= 1.3"),
        ("export_vs_bare_openpyxl", measures_reports.export_all, "rows/s", ">= 0.8"),
        ("csv_writer_vs_bare_csv", measures_reports.csv_all, "rows/s", ">= 0.8"),
        ("push_event_p99_ms", measures_push.watchers, "ms", "info"),
        # Growth curves (issue 17): big tables against small ones, sizes times BENCH_SCALE.
        ("status_p99_1m_vs_10k_jobs", measures_growth.status_growth, "ms", "<= 1.2"),
        ("gallery_p99_100k_vs_100_images", measures_growth.gallery_growth, "ms", "<= 1.5"),
        ("statistics_rss_1m_vs_100k_images", measures_growth.statistics_growth, "MB", "<= 1.2"),
        ("cleanup_longest_statement_ms", measures_growth.cleanup_growth, "ms", "<= 200"),
        ("csv_export_vs_bare_csv", measures_growth.export_growth, "rows/s", ">= 0.8"),
        # Scaling with processes and clients (issue 17): curves for this machine's cores.
        ("fast_worker_jobs_per_s", measures_scaling.fast_worker_scaling, "jobs/s", "info"),
        ("uploads_per_s", measures_scaling.upload_scaling, "uploads/s", "info"),
    ]


DATABASES = ("sqlite", "postgres")
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/backroom_bench"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--full", action="store_true", help="long variants (1M rows, more rounds)")
    parser.add_argument("--only", default="", help="comma-separated measure names (substrings)")
    parser.add_argument("--small", action="store_true", help="tiny sizes, to develop the harness")
    parser.add_argument("--list", action="store_true", help="list the measures and exit")
    parser.add_argument(
        "--databases",
        default="sqlite,postgres",
        help="which passes to run (comma-separated; postgres is skipped when it is not reachable)",
    )
    parser.add_argument("--pass", dest="one_pass", choices=DATABASES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    if args.list:
        for name, *_ in _catalogue():
            if _wanted(name, args.only):
                print(name)
        return 0
    if args.one_pass:
        return run_pass(args)
    return run_all(args, argv if argv is not None else sys.argv[1:])


def _catalogue() -> list[tuple]:
    """The measures' names, without Django (--list): the same list measures() returns."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
    import django

    django.setup()
    return measures()


def run_all(args, argv: list[str]) -> int:
    """One pass per database, each in a process of its own (Django reads its database once), in
    turn on the same machine; their results are merged, PostgreSQL's named ``<name>[postgres]``."""
    started = time.monotonic()
    _fresh(BENCH_DIR)
    wanted = [d.strip() for d in args.databases.split(",") if d.strip()]
    results: list[dict] = []
    skipped: list[str] = []
    for database in DATABASES:
        if database not in wanted:
            continue
        env = dict(os.environ)
        env.pop("BENCH_DATABASE_URL", None)
        pg_url = None
        if database == "postgres":
            pg_url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_PG_URL
            reason = pg_database_recreate(pg_url)
            if reason:
                print(f"bench: no PostgreSQL pass: {reason}", flush=True)
                skipped.append(f"postgres ({reason})")
                continue
            env["BENCH_DATABASE_URL"] = pg_url
        print(f"bench: ===== pass on {database} =====", flush=True)
        out = BENCH_DIR / f"pass-{database}.json"
        out.unlink(missing_ok=True)
        try:
            subprocess.run(
                [sys.executable, "-m", "tests.bench", *argv, "--pass", database],
                cwd=ROOT,
                env=env,
                check=False,
            )
        finally:
            if pg_url:
                pg_database_drop(pg_url)
        if not out.exists():
            why = "the pass ended without writing its results (see its output above)"
            results.append(
                failed(f"bench_pass[{database}]", unit="", target="completes", reason=why).as_json()
            )
            continue
        for r in json.loads(out.read_text())["results"]:
            if database != "sqlite":
                r["name"] = f"{r['name']}[{database}]"
            results.append(r)
    return _report(
        [Result(**r) for r in results],
        full=args.full,
        seconds=time.monotonic() - started,
        publish=not (args.only or args.small),
        skipped=skipped,
        scale=Sizes.small().growth if args.small else Sizes.scale(),
    )


def run_pass(args) -> int:
    """Every selected measure on one database (BENCH_DATABASE_URL, else a fresh SQLite file)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.bench"
    # The bench's own broker, whatever the shell has configured.
    for var in ("CELERY_BROKER_URL", "REDIS_URL"):
        os.environ.pop(var, None)
    started = time.monotonic()

    from config.core import devredis

    _fresh_pass(BENCH_DIR)
    redis_proc, url = devredis.start_private_redis(data_dir=BENCH_DIR / "redis", appendonly=False)
    os.environ["CELERY_BROKER_URL"] = url
    os.environ["REDIS_URL"] = url
    results = []
    ctx = None
    try:
        import django

        # This process enqueues jobs as the web process does, so it takes web's SQLite setting
        # (no checkpoints inside requests; see the Procfile). Its children keep the default.
        os.environ["SQLITE_WAL_AUTOCHECKPOINT"] = "0"
        django.setup()
        del os.environ["SQLITE_WAL_AUTOCHECKPOINT"]
        from django.core.management import call_command
        from django.db import connection

        from .context import Context

        selected = [m for m in measures() if _wanted(m[0], args.only)]
        call_command("migrate", verbosity=0)
        sizes = Sizes.small() if args.small else Sizes.for_run(args.full)
        print(
            f"bench: {'full' if args.full else 'quick'} run on {cpu_model()}, {connection.vendor},"
            f" Redis at {url}, growth scale {sizes.growth:g}",
            flush=True,
        )
        ctx = Context(sizes=sizes, redis_url=url)
        ctx.setup()
        for name, run, unit, target in selected:
            t0 = time.monotonic()
            print(f"bench: {name} …", flush=True)
            try:
                got = run(ctx)
            except Exception as exc:
                traceback.print_exc()
                got = [failed(name, unit=unit, target=target, reason=f"{type(exc).__name__}: {exc}")]
            for r in got:
                print(f"bench:   {r.name}: {_line(r)}", flush=True)
            print(f"bench:   ({time.monotonic() - t0:.0f} s)", flush=True)
            results.extend(got)
    finally:
        if ctx is not None:
            ctx.close()
        devredis.stop(redis_proc)
    payload = {"seconds": round(time.monotonic() - started), "results": [r.as_json() for r in results]}
    (BENCH_DIR / f"pass-{args.one_pass}.json").write_text(json.dumps(payload, indent=2, default=str))
    return 0


def _pg_admin(url: str):
    """A connection to the server's maintenance database, and the bench database's name."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    return psycopg.connect(admin, autocommit=True, connect_timeout=3), name


def pg_database_recreate(url: str) -> str:
    """A fresh database at ``url`` (dropped first, as the SQLite file is); "" or why not."""
    try:
        conn, name = _pg_admin(url)
    except Exception as exc:
        return f"{url} is not reachable ({type(exc).__name__}: {str(exc).strip()[:120]})"
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return ""


def pg_database_drop(url: str) -> None:
    try:
        conn, name = _pg_admin(url)
    except Exception as exc:
        print(f"bench: could not drop the PostgreSQL bench database: {exc}", flush=True)
        return
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wanted(name: str, only: str) -> bool:
    return not only or any(part.strip() and part.strip() in name for part in only.split(","))


def _fresh(path) -> None:
    """A new database, media folder and logs for each run; results.json of older runs is kept."""
    path.mkdir(parents=True, exist_ok=True)
    for child in path.iterdir():
        if child.name in ("results.json", "images"):
            continue
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _fresh_pass(path) -> None:
    """What one pass leaves behind goes before the next: its database file, media, broker, scratch."""
    path.mkdir(parents=True, exist_ok=True)
    for child in path.iterdir():
        if child.name in ("results.json", "images", "logs") or child.name.startswith("pass-"):
            continue
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _line(r) -> str:
    from .stats import fmt

    parts = [f"{fmt(r.value)} {r.unit}"]
    if r.baseline is not None:
        parts.append(f"baseline {fmt(r.baseline)}")
        parts.append(f"ratio {fmt(r.ratio)}")
    if r.holds is None:
        parts.append("for information")
    else:
        parts.append(f"target {r.target}: {'holds' if r.holds else 'DOES NOT HOLD'}")
    if r.note:
        parts.append(f"[{r.note}]")
    return ", ".join(parts)


def _report(
    results, *, full: bool, seconds: float, publish: bool = False, skipped=(), scale: float = 1.0
) -> int:
    from .stats import table

    targets = [r for r in results if r.target != "info"]
    payload = {
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "full" if full else "quick",
        "seconds": round(seconds),
        "scale": scale,
        "skipped": list(skipped),
        "results": [r.as_json() for r in results],
    }
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    (BENCH_DIR / "results.json").write_text(json.dumps(payload, indent=2, default=str))
    if publish:
        # Only a whole run at real sizes speaks for the project; --only and --small runs do not.
        from tests.docs_pages import write_bench_page

        write_bench_page(json.loads(json.dumps(payload, default=str)))
    print()
    print(f"Backroom benchmarks — {payload['cpu_model']} ({payload['cpus']} CPUs), {payload['date']}")
    print(table(targets))
    info = [r for r in results if r.target == "info"]
    if info:
        print()
        print("For information (fastest peers on the same work):")
        print(table(info))
    holding = sum(1 for r in targets if r.holds)
    print()
    for why in skipped:
        print(f"Not run: {why}")
    print(
        f"{holding} of {len(targets)} targets hold; {seconds:.0f} s;"
        " written to var/bench/results.json" + (" and docs/bench.md" if publish else "")
    )
    return 0 if holding == len(targets) else 1


if __name__ == "__main__":
    sys.exit(main())
