from collections import Counter
from functools import partial

from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.core.humanize import human_bytes

from . import charts, selectors, services

DAYS = 30
# Axis labels and the dashboard's totals: "512 B", "1.5 KB".
_short_bytes = partial(human_bytes, short=True)


@require_GET
@never_cache
@staff_member_required
def dashboard(request):
    today = services.local_today()
    series = selectors.daily_series(end=today, days=DAYS)
    rows = [row for _, row in series if row is not None]
    context = {
        "days": DAYS,
        "charts": _charts(series),
        "latest": rows[-1] if rows else None,
        "totals": _totals(rows),
        "reasons": _failure_reasons(rows).most_common(10),
        "queues": selectors.queue_lengths(),
        "workers": selectors.workers_online(),
        "beat": selectors.beat_status(),
    }
    return render(request, "ops/dashboard.html", context)


def _charts(series) -> list[dict]:
    """The four charts of the last DAYS days; a day with no row is a gap, not a zero."""
    labels = [day.strftime("%b %d") for day, _ in series]

    def points(value):
        return [
            (label, None if row is None else value(row))
            for label, (_, row) in zip(labels, series, strict=True)
        ]

    chart_list = [
        ("Uploads per day", charts.bar_chart(points(lambda s: s.uploads), title="Uploads per day")),
        (
            "Bytes saved per day",
            charts.bar_chart(
                points(lambda s: s.bytes_saved),
                title="Bytes saved per day",
                fmt=_short_bytes,
                color="#15803d",
            ),
        ),
        (
            "Processing time, 95th percentile (ms)",
            charts.line_chart(
                points(lambda s: s.processing_p95_ms), title="Processing time, 95th percentile (ms)"
            ),
        ),
        (
            "Failures per day",
            charts.bar_chart(points(lambda s: s.failures), title="Failures per day", color="#b91c1c"),
        ),
    ]
    # The charts are built from escaped labels and numbers only (see charts.py), hence safe.
    return [{"title": title, "svg": mark_safe(svg)} for title, svg in chart_list]  # noqa: S308


def _totals(rows) -> dict:
    return {
        "uploads": sum(r.uploads for r in rows),
        "bytes_saved": _short_bytes(sum(r.bytes_saved for r in rows)),
        "failures": sum(r.failures for r in rows),
        "exports": sum(r.exports for r in rows),
        "emails_sent": sum(r.emails_sent for r in rows),
    }


def _failure_reasons(rows) -> Counter:
    reasons = Counter()
    for row in rows:
        reasons.update(row.failures_by_reason or {})
    return reasons
