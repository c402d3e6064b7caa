"""`make flake`: run the timing-dependent tests N times and count each one's passes and failures.

    make flake                     # N=5, the tests marked `timing`
    make flake N=20 LOAD=1         # beside a CPU load: one busy process per core, at normal priority
    make flake N=10 TESTS="tests/ops/test_beat.py"

Each round is a whole `python -m tests` run (its own private Redis, its own test database), so one
round's leftovers cannot help or hurt the next. The counts come from each round's JUnit report, and
a round that collected nothing counts as a failure of the run, never as a pass.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _burn(stop_at: float) -> None:
    x = 0
    while time.monotonic() < stop_at:
        x = (x * 31 + 7) % 1_000_003


def _outcomes(report: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    if not report.exists():
        return found
    for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314 (our own pytest wrote it)
        name = f"{case.get('classname')}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            found[name] = "failed"
        elif case.find("skipped") is not None:
            found[name] = "skipped"
        else:
            found[name] = "passed"
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("-n", type=int, default=5, help="rounds")
    parser.add_argument("--load", action="store_true", help="beside one busy process per core")
    parser.add_argument("tests", nargs="*", help="test paths or node ids (default: -m timing)")
    args = parser.parse_args(argv)
    selection = args.tests or ["-m", "timing"]

    burners: list[multiprocessing.Process] = []
    if args.load:
        stop_at = time.monotonic() + 24 * 3600
        burners = [
            multiprocessing.Process(target=_burn, args=(stop_at,), daemon=True)
            for _ in range(os.cpu_count() or 1)
        ]
        for burner in burners:
            burner.start()
    counts: dict[str, Counter] = {}
    broken_rounds = 0
    try:
        with tempfile.TemporaryDirectory(prefix="backroom-flake-") as tmp:
            for round_no in range(1, args.n + 1):
                report = Path(tmp) / f"round-{round_no}.xml"
                started = time.monotonic()
                proc = subprocess.run(
                    [sys.executable, "-m", "tests", "-q", f"--junitxml={report}", *selection],
                    cwd=ROOT,
                    env={**os.environ, "BACKROOM_TEST_RUN": f"flake{os.getpid()}r{round_no}"},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                outcomes = _outcomes(report)
                if not outcomes or proc.returncode not in (0, 1):
                    broken_rounds += 1
                    print(proc.stdout[-3000:], file=sys.stderr)
                for name, outcome in outcomes.items():
                    counts.setdefault(name, Counter())[outcome] += 1
                failed = sorted(n for n, o in outcomes.items() if o == "failed")
                print(
                    f"round {round_no}/{args.n}: {len(outcomes) - len(failed)} ok, {len(failed)} failed"
                    f" in {time.monotonic() - started:.0f}s" + "".join(f"\n  FAILED {n}" for n in failed),
                    flush=True,
                )
    finally:
        for burner in burners:
            burner.terminate()

    load = f"beside {len(burners)} busy processes" if burners else "on an idle machine"
    print(f"\n{args.n} rounds {load}:")
    width = max((len(n) for n in counts), default=10)
    for name in sorted(counts):
        c = counts[name]
        print(
            f"  {name:<{width}}  {c['passed']:>3} passed  {c['failed']:>3} failed  {c['skipped']:>3} skipped"
        )
    total_failed = sum(c["failed"] for c in counts.values())
    print(f"{total_failed} failures, {broken_rounds} broken rounds")
    return 1 if total_failed or broken_rounds else 0


if __name__ == "__main__":
    sys.exit(main())
