"""Figures: percentiles, medians of rounds, and the result rows written to var/bench/results.json."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field


def percentile(samples: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values)


@dataclass
class Result:
    """One line of the table. ``target`` is like "<= 1.5"; it applies to ``ratio`` when there is a
    baseline, else to ``value``. With rounds, ``value`` and ``baseline`` are the medians of the rounds
    and ``ratio`` the median of the per-round ratios (each round's pair ran back to back, so slow
    drift in the machine's load cancels out)."""

    name: str
    value: float | None
    unit: str
    target: str
    baseline: float | None = None
    ratio: float | None = None
    holds: bool | None = None
    rounds: list[dict] = field(default_factory=list)
    note: str = ""

    def judge(self) -> Result:
        if self.target == "info":
            self.holds = None
            return self
        op, limit = self.target.split()
        subject = self.ratio if self.baseline is not None else self.value
        if subject is None:
            self.holds = False
            return self
        limit = float(limit)
        self.holds = {
            "<=": subject <= limit,
            "<": subject < limit,
            ">=": subject >= limit,
            ">": subject > limit,
        }[op]
        return self

    def as_json(self) -> dict:
        return asdict(self)


def paired(name: str, pairs: list[tuple[float, float]], *, unit: str, target: str, note: str = "") -> Result:
    """A measure against a baseline, from (ours, baseline) pairs, one per round."""
    ours = [a for a, _ in pairs]
    base = [b for _, b in pairs]
    ratios = [a / b for a, b in pairs]
    return Result(
        name=name,
        value=median(ours),
        baseline=median(base),
        ratio=median(ratios),
        unit=unit,
        target=target,
        rounds=[{"value": a, "baseline": b, "ratio": a / b} for a, b in pairs],
        note=note,
    ).judge()


def single(name: str, values: list[float], *, unit: str, target: str, note: str = "") -> Result:
    return Result(
        name=name,
        value=median(values),
        unit=unit,
        target=target,
        rounds=[{"value": v} for v in values],
        note=note,
    ).judge()


def failed(name: str, *, unit: str, target: str, reason: str) -> Result:
    return Result(name=name, value=None, unit=unit, target=target, holds=False, note=reason)


def fmt(x: float | None) -> str:
    if x is None:
        return "—"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def table(results: list[Result]) -> str:
    head = ("measure", "value", "baseline", "ratio", "unit", "target", "holds")
    rows = [
        (
            r.name,
            fmt(r.value),
            fmt(r.baseline),
            fmt(r.ratio),
            r.unit,
            r.target,
            "—" if r.holds is None else "yes" if r.holds else "NO",
        )
        for r in results
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False))  # noqa: E731
    out = [line(head), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def markdown(results: list[Result]) -> str:
    out = [
        "| measure | value | baseline | ratio | unit | target | holds |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        out.append(
            f"| `{r.name}` | {fmt(r.value)} | {fmt(r.baseline)} | {fmt(r.ratio)} | {r.unit} "
            f"| {r.target.replace('<=', '≤').replace('>=', '≥')} "
            f"| {'yes' if r.holds else '**no**'} |"
        )
    return "\n".join(out)
