"""`make test-hosts`: build the hosts (tests/hosts/fleet.py), run every scenario, tear down.

Prints "skipped: <reason>" and exits 0 where namespaces can't be made (never "passed"). Each
scenario appends its figures to var/hosts/results.json; any failed scenario makes the exit code 1.
The whole run is bounded: DEADLINE_SECONDS, after which it fails. Scenario names given as
arguments run only those (after the setup every scenario needs), to work on one of them.
"""

from __future__ import annotations

import signal
import sys
import time
import traceback

from tests.hosts import faults, scenarios, skew
from tests.hosts.fleet import Fleet, Skip, check_can_run, write_results

DEADLINE_SECONDS = 660


def _timeout(signum, frame):
    raise TimeoutError(f"make test-hosts: the whole run took more than {DEADLINE_SECONDS}s")


def main(argv: list[str]) -> int:
    chosen = [s for s in scenarios.ALL + faults.ALL + skew.ALL if not argv or s.__name__ in argv]
    unknown = set(argv) - {s.__name__ for s in chosen}
    if unknown:
        print(f"make test-hosts: no scenario named {', '.join(sorted(unknown))}")
        return 2
    try:
        check_can_run()
    except Skip as reason:
        print(f"make test-hosts: skipped: {reason}")
        return 0
    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(DEADLINE_SECONDS)
    results: list[dict] = []
    failed: list[str] = []
    started = time.monotonic()
    try:
        with Fleet() as fleet:
            fleet.start_services()
            fleet.start_apps()
            print(
                f"make test-hosts: {len(fleet.hosts)} hosts up in {time.monotonic() - started:.1f}s",
                flush=True,
            )
            scenarios.setup(fleet)
            for scenario in chosen:
                name = scenario.__name__
                t0 = time.monotonic()
                try:
                    figures = scenario(fleet)
                except Exception:
                    failed.append(name)
                    traceback.print_exc()
                    figures = {"scenario": name, "error": traceback.format_exc(limit=3)[-500:]}
                figures.setdefault("scenario", name)
                figures.setdefault("seconds", round(time.monotonic() - t0, 2))
                results.append(figures)
                write_results(results)
                print(
                    f"  {'FAILED' if name in failed else 'ok    '} {name} ({figures['seconds']}s)", flush=True
                )
    except Exception:
        traceback.print_exc()
        failed.append("harness")
    finally:
        signal.alarm(0)
        write_results(results)
    total = time.monotonic() - started
    if not argv:  # only a whole run rewrites the page the README links
        from tests.docs_pages import write_hosts_page

        write_hosts_page(results, seconds=total, failed=failed)
    if failed:
        print(f"make test-hosts: FAILED {', '.join(failed)} in {total:.0f}s (logs under var/hosts/)")
        return 1
    print(f"make test-hosts: passed {len(results)} scenarios in {total:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
