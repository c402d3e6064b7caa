"""One periodic job's work in a process of its own, as a worker runs it, with what it cost.

    python -m tests.bench.probe cleanup|statistics OUT.json

``cleanup`` times every SQL statement (a connection execute wrapper) and reports the longest;
``statistics`` reports the process's peak RSS (VmHWM) after the run, against its size before.
Each runs the same service its periodic task calls (config.ops.services), so nothing of the
bench's own process (its threads, its heap of seeded rows) is counted. Started by
tests/bench/measures_growth.py with the bench's environment (config.settings.bench).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


class Timer:
    """A connection execute wrapper: the longest statement and how many ran."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.longest_sql = ""
        self.statements = 0

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            took = time.perf_counter() - t0
            self.statements += 1
            if took > self.longest:
                self.longest, self.longest_sql = took, sql[:300]


def cleanup() -> dict:
    from django.db import connection

    from config.ops import services

    timer = Timer()
    t0 = time.perf_counter()
    with connection.execute_wrapper(timer):
        done = services.cleanup_run(result_retention_days=30, orphan_grace_hours=24)
    return {
        "seconds": time.perf_counter() - t0,
        "longest_ms": timer.longest * 1000,
        "longest_sql": timer.longest_sql,
        "statements": timer.statements,
        "done": done,
    }


def statistics() -> dict:
    from config.ops import services

    from .stack import vm_hwm_kb, vm_rss_kb

    before = vm_rss_kb(os.getpid())
    t0 = time.perf_counter()
    done = services.statistics_run(days_back=0)
    return {
        "seconds": time.perf_counter() - t0,
        "rss_before_kb": before,
        "peak_kb": vm_hwm_kb(os.getpid()),
        "done": done,
    }


def main(argv: list[str]) -> int:
    what, out = argv
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
    import django

    django.setup()
    # Imports, settings and the first connection are made before the work starts, as in a worker.
    from django.db import connection

    connection.ensure_connection()
    # The bench measures the site "during" the work from here on, not during this start-up.
    Path(f"{out}.started").touch()
    got = {"cleanup": cleanup, "statistics": statistics}[what]()
    Path(out).write_text(json.dumps(got, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
