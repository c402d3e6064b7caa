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


GROWTH = (
    "status_p99_1m_vs_10k_jobs",
    "gallery_p99_100k_vs_100_images",
    "statistics_rss_1m_vs_100k_images",
    "statistics_seconds_1m_images",
    "cleanup_longest_statement_ms",
    "cleanup_seconds",
    "status_p99_during_cleanup_vs_idle",
    "csv_export_vs_bare_csv",
)
SCALING = {"fast_worker_jobs_per_s": ("1", "2", "4"), "uploads_per_s": ("1", "5", "20")}


def _split(name: str) -> tuple[str, str]:
    """("measure[x]", "sqlite") from a result's name: PostgreSQL's end in [postgres]."""
    if name.endswith("[postgres]"):
        return name.removesuffix("[postgres]"), "postgres"
    return name, "sqlite"


def _figure(r: dict | None) -> str:
    if r is None:
        return "—"
    if r["value"] is None:
        return "failed"
    if r.get("baseline") is not None:
        return f"{_cell(r['ratio'])} ({_cell(r['value'])} vs {_cell(r['baseline'])} {r['unit']})"
    return f"{_cell(r['value'])} {r['unit']}"


def _holds(r: dict | None) -> str:
    if r is None or r["holds"] is None:
        return "—"
    return "yes" if r["holds"] else "**no**"


def _by_database(results: list[dict]) -> dict[str, dict[str, dict]]:
    table: dict[str, dict[str, dict]] = {}
    for r in results:
        base, database = _split(r["name"])
        table.setdefault(base, {})[database] = r
    return table


def _both_databases(results: list[dict]) -> list[str]:
    lines = [
        "## Both databases",
        "",
        "The ratio where there is a baseline (value vs baseline in brackets), else the value.",
        "",
        "| measure | target | SQLite | holds | PostgreSQL | holds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for base, by in _by_database(results).items():
        target = next(iter(by.values()))["target"]
        if target == "info":
            continue
        lines.append(
            f"| {base} | {target} | {_figure(by.get('sqlite'))} | {_holds(by.get('sqlite'))}"
            f" | {_figure(by.get('postgres'))} | {_holds(by.get('postgres'))} |"
        )
    return lines


def _curves(results: list[dict], scale: float) -> list[str]:
    table = _by_database(results)
    lines = [
        "",
        "## Growth curves",
        "",
        f"Big table against small in the same run (sizes × {scale:g}; the notes give the row counts).",
        "",
        "| measure | database | small | big | ratio | target | note |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in GROWTH:
        for database, r in table.get(name, {}).items():
            small = _cell(r.get("baseline"))
            lines.append(
                f"| {name} | {database} | {small} | {_cell(r['value'])} {r['unit']} | {_cell(r.get('ratio'))}"
                f" | {r['target']} | {_cell(r['note'])} |"
            )
    lines += ["", "## Scaling with processes and clients", ""]
    lines += ["| curve | database | figures |", "| --- | --- | --- |"]
    for curve, sizes in SCALING.items():
        for database in ("sqlite", "postgres"):
            cells = []
            for size in sizes:
                r = table.get(f"{curve}[{size}]", {}).get(database)
                if r is None:
                    continue
                extra = f" (bare {_cell(r['baseline'])})" if curve == "uploads_per_s" else ""
                cells.append(f"{size}: {_cell(r['value'])}{extra}")
            if cells:
                unit = "uploads/s from N clients" if curve == "uploads_per_s" else "jobs/s with N processes"
                lines.append(f"| {curve} | {database} | {'; '.join(cells)} {unit} |")
    return lines


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
        "Each measure runs on SQLite and on PostgreSQL; PostgreSQL's are named `<name>[postgres]`.",
        "",
        f"Last run: {payload['date']}, {payload['mode']} mode, commit {_commit()}, {payload['cpu_model']}"
        f" ({payload['cpus']} CPUs), {payload['seconds']} s: **{holding} of {len(targets)} targets hold**.",
    ]
    for why in payload.get("skipped", []):
        lines.append(f"Not run: {why}.")
    lines.append("")
    lines += _both_databases(results)
    lines += _curves(results, payload.get("scale", 1.0))
    lines += [
        "",
        "## Every figure",
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
        lines += ["", "For information (the fastest peers on the same work, and the curves' figures):", ""]
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
