"""Numbers as people read them: a progress percent, a plural, a size in bytes, a duration.

Pure (no Django, no ORM): every page, email and chart that says one of these says it the same way.
"""

from __future__ import annotations


def percent(current: int | None, total: int | None) -> float | None:
    """How far ``current`` is through ``total``, to one decimal; None while there is no total."""
    if not total:
        return None
    return round(100 * (current or 0) / total, 1)


def plural(n: int, word: str) -> str:
    """``1 row``, ``20,000 rows``: the count with thousands separators and the word after it."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def human_bytes(n: float, *, short: bool = False) -> str:
    """``512 bytes``, ``1.5 KB``, ``3.0 GB`` (binary steps). ``short`` writes ``512 B``, for chart axes."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            break
        size /= 1024
    if unit == "B":
        return f"{size:,.0f} B" if short else f"{size:,.0f} bytes"
    return f"{size:,.1f} {unit}"


def human_duration(seconds: int) -> str:
    """``24 hours`` for whole hours, else ``90 minutes`` (at least ``1 minute``)."""
    if seconds % 3600 == 0:
        return plural(seconds // 3600, "hour")
    return plural(max(1, seconds // 60), "minute")


def duration_ms(ms: float | None) -> str:
    """A duration people read: "412 ms" under a second, then "1.4 s", "2 min 5 s", "1 h 3 min"."""
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
