"""The figure pages under docs/, written by the runs that measure them, never by hand.

`make bench` writes docs/bench.md from its results; every reliability scenario rewrites
docs/reliability.md from var/reliability-figures.json (the latest run of each scenario on each
database). The README links these pages and quotes no figure of its own, so a figure is never
copied, and never goes stale while the code moves on.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_cell(v)}" for k, v in value.items())
    return str(value).replace("|", "\\|")


def _write(name: str, text: str) -> Path:
    DOCS.mkdir(exist_ok=True)
    path = DOCS / name
    path.write_text(text)
    return path


def write_bench_page(payload: dict) -> Path:
    """docs/bench.md from the payload `make bench` writes to var/bench/results.json."""
    results = payload["results"]
    targets = [r for r in results if r["target"] != "info"]
    info = [r for r in results if r["target"] == "info"]
    holding = sum(1 for r in targets if r["holds"])
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`tests/bench`); do not edit by hand. Every figure is a ratio against a",
        "baseline measured in the same run, in interleaved rounds; values are medians of the rounds.",
        "",
        f"Last run: {payload['date']}, {payload['mode']} mode, commit {_commit()}, {payload['cpu_model']}"
        f" ({payload['cpus']} CPUs), {payload['seconds']} s: **{holding} of {len(targets)} targets hold**.",
        "",
        "| measure | value | baseline | ratio | target | holds | note |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in targets:
        holds = "yes" if r["holds"] else "**no**"
        lines.append(
            f"| {r['name']} | {_cell(r['value'])} {r['unit']} | {_cell(r['baseline'])} | {_cell(r['ratio'])}"
            f" | {r['target']} | {holds} | {_cell(r['note'])} |"
        )
    if info:
        lines += ["", "For information (the fastest peers on the same work):", ""]
        lines += ["| measure | value | baseline | ratio | note |", "| --- | --- | --- | --- | --- |"]
        for r in info:
            lines.append(
                f"| {r['name']} | {_cell(r['value'])} {r['unit']} | {_cell(r['baseline'])}"
                f" | {_cell(r['ratio'])} | {_cell(r['note'])} |"
            )
    rounds = [r for r in results if r.get("rounds")]
    if rounds:
        lines += ["", "## Rounds", ""]
        for r in rounds:
            lines.append(f"- {r['name']}: " + "; ".join(_cell(x) for x in r["rounds"]))
    return _write("bench.md", "\n".join(lines) + "\n")


_FIXED = ("scenario", "jobs", "faults", "final", "lost", "duplicated", "states", "seconds", "run", "database")


def write_reliability_page(figures_file: Path) -> Path:
    """docs/reliability.md: the latest run of every scenario, per database."""
    try:
        runs = json.loads(figures_file.read_text())
    except (OSError, ValueError):
        runs = []
    latest: dict[tuple[str, str], dict] = {}
    for run in runs:
        database = run.get("database", "?").rsplit(".", 1)[-1]
        latest[(database, run.get("scenario", "?"))] = run
    lines = [
        "# Reliability",
        "",
        "Written by the reliability suite (`tests/reliability`, run by `make test` and `.ci/run`) from",
        "`var/reliability-figures.json`; do not edit by hand. Each scenario injects real faults into real",
        "workers and brokers, counts the jobs it submitted and those that ended, and asserts none lost and",
        "none done twice; a scenario that failed its assertions still shows its figures here.",
        "",
        f"Page written {datetime.now(UTC).isoformat(timespec='seconds')}, commit {_commit()}.",
        "",
        "| database | scenario | jobs | faults | lost | duplicated | seconds | figures |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (database, scenario), run in sorted(latest.items()):
        extra = {k: v for k, v in run.items() if k not in _FIXED}
        lines.append(
            f"| {database} | {scenario} | {_cell(run.get('jobs'))} | {_cell(run.get('faults'))}"
            f" | {_cell(run.get('lost'))} | {_cell(run.get('duplicated'))} | {_cell(run.get('seconds'))}"
            f" | {_cell(extra) if extra else ''} |"
        )
    return _write("reliability.md", "\n".join(lines) + "\n")


_HOSTS_FIXED = ("scenario", "jobs", "faults", "lost", "duplicated", "seconds", "error")


def write_hosts_page(results: list[dict], *, seconds: float, failed: list[str]) -> Path:
    """docs/hosts.md: the fault table of the last `make test-hosts` (var/hosts/results.json)."""
    verdict = f"**FAILED: {', '.join(failed)}**" if failed else f"**all {len(results)} scenarios passed**"
    lines = [
        "# Many hosts: the fault table",
        "",
        "Written by `make test-hosts` (`tests/hosts`) from `var/hosts/results.json`; do not edit by hand.",
        "Every host is a network namespace on one machine, running the Procfile's own command lines",
        '(README, "Running on many machines"). Each scenario injects its fault between hosts, counts the',
        "jobs it submitted and how they ended, and asserts none lost and none done twice; a scenario that",
        "failed its assertions shows its error instead of figures.",
        "",
        f"Last run: {datetime.now(UTC).isoformat(timespec='seconds')}, commit {_commit()}, {seconds:.0f} s:"
        f" {verdict}.",
        "",
        "| scenario | jobs | faults | lost | duplicated | seconds | figures |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in results:
        extra = {k: v for k, v in run.items() if k not in _HOSTS_FIXED}
        shown = _cell(extra) if extra else ""
        if "error" in run:
            shown = "**failed**: " + _cell(run["error"].strip().splitlines()[-1][:300])
        lines.append(
            f"| {run.get('scenario')} | {_cell(run.get('jobs'))} | {_cell(run.get('faults'))}"
            f" | {_cell(run.get('lost'))} | {_cell(run.get('duplicated'))} | {_cell(run.get('seconds'))}"
            f" | {shown} |"
        )
    return _write("hosts.md", "\n".join(lines) + "\n")
