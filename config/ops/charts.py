"""Server-rendered SVG charts: a list of (label, value) in, an <svg> string out. No ORM, no JS.

Each bar or point carries data-label and data-value, and a <title> a screen reader and a hover
show; the SVG scales to its container through its viewBox.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

Point = tuple[str, float | None]

WIDTH = 420
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 12, 30


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def plain(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _frame(
    title: str, top: float, fmt: Callable[[float], str], labels: Sequence[str], step: float
) -> list[str]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="chart" role="img" aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" '
            'stroke="#d0d4da" stroke-width="1"/>'
        )
        parts.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="13" fill="#555">{escape(fmt(top * fraction))}</text>'
        )
    if labels:
        # First, middle and last labels: 30 dates side by side do not fit on a phone.
        last = len(labels) - 1
        for i in sorted({0, len(labels) // 2, last}):
            # The outer labels line up with the plot's edges so they are never cut off.
            x, anchor = LEFT + step * (i + 0.5), "middle"
            if i == 0 and last:
                x, anchor = LEFT, "start"
            elif i == last and last:
                x, anchor = LEFT + plot_w, "end"
            parts.append(
                f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 9}" text-anchor="{anchor}" '
                f'font-size="13" fill="#555">{escape(labels[i])}</text>'
            )
    return parts


def bar_chart(
    points: Sequence[Point],
    *,
    title: str,
    fmt: Callable[[float], str] = plain,
    color: str = "#2f6fdf",
) -> str:
    """Vertical bars, one per point; a None value draws no bar (and says "no data")."""
    values = [v for _, v in points if v is not None]
    top = nice_ceiling(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(points))
    parts = _frame(title, top, fmt, [label for label, _ in points], step)
    for i, (label, value) in enumerate(points):
        shown = "no data" if value is None else fmt(value)
        h = 0.0 if value is None else plot_h * max(0.0, value) / top
        x = LEFT + step * i + step * 0.15
        parts.append(
            f'<rect class="bar" data-label="{escape(label)}" data-value="{"" if value is None else value}" '
            f'x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" '
            f'fill="{escape(color)}"><title>{escape(label)}: {escape(shown)}</title></rect>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    points: Sequence[Point],
    *,
    title: str,
    fmt: Callable[[float], str] = plain,
    color: str = "#c2410c",
) -> str:
    """A line through the points; a None value breaks the line (a day with no data)."""
    values = [v for _, v in points if v is not None]
    top = nice_ceiling(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(points))
    parts = _frame(title, top, fmt, [label for label, _ in points], step)
    runs: list[list[str]] = [[]]
    dots = []
    for i, (label, value) in enumerate(points):
        if value is None:
            runs.append([])
            continue
        x = LEFT + step * (i + 0.5)
        y = TOP + plot_h * (1 - max(0.0, value) / top)
        runs[-1].append(f"{x:.1f},{y:.1f}")
        dots.append(
            f'<circle class="point" data-label="{escape(label)}" data-value="{value}" cx="{x:.1f}" '
            f'cy="{y:.1f}" r="3" fill="{escape(color)}"><title>{escape(label)}: {escape(fmt(value))}'
            "</title></circle>"
        )
    for run in runs:
        if len(run) > 1:
            parts.append(
                f'<polyline class="line" points="{" ".join(run)}" fill="none" '
                f'stroke="{escape(color)}" stroke-width="2"/>'
            )
    parts.extend(dots)
    parts.append("</svg>")
    return "".join(parts)
