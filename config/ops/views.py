from collections import Counter
from functools import partial

from django.contrib.admin.views.decorators import staff_member_required
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.core import humanize, times
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
        **_now(),
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


@require_GET
@never_cache
@staff_member_required
def dashboard_now(request):
    """The dashboard's live part as JSON (its script asks every few seconds)."""
    return JsonResponse(_now())


def _now() -> dict:
    """The live part of the dashboard: the page draws it, and its script asks for it again."""
    failures = [
        {
            "task_id": f["task_id"],
            "kind": f["kind_name"],
            "error": (f["error"] or "")[:160],
            "when": times.relative(f["finished_at"]) or times.zoned(f["finished_at"])
            if f["finished_at"]
            else "",
            "url": reverse("admin:core_job_change", args=[f["pk"]]),
        }
        for f in selectors.recent_failures()
    ]
    rates = [
        {
            **r,
            "p50": humanize.duration_ms(r["p50_ms"]) if r["p50_ms"] is not None else "—",
            "p95": humanize.duration_ms(r["p95_ms"]) if r["p95_ms"] is not None else "—",
        }
        for r in selectors.task_rates()
    ]
    return {
        "queues": selectors.queue_lengths(),
        "workers": selectors.workers_online(),
        "beat": selectors.beat_status(),
        "failures": failures,
        "rates": rates,
    }
