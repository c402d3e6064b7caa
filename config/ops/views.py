from collections import Counter

from django.contrib.admin.views.decorators import staff_member_required
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.core import times

from . import charts, selectors, services

DAYS = 30


@require_GET
@never_cache
@staff_member_required
def dashboard(request):
    today = services.local_today()
    series = selectors.daily_series(end=today, days=DAYS)
    labels = [day.strftime("%b %d") for day, _ in series]

    def points(value):
        return [
            (label, None if row is None else value(row))
            for label, (_, row) in zip(labels, series, strict=True)
        ]

    # The charts are built from escaped labels and numbers only (see charts.py), hence safe.
    chart_list = [
        ("Uploads per day", charts.bar_chart(points(lambda s: s.uploads), title="Uploads per day")),
        (
            "Bytes saved per day",
            charts.bar_chart(
                points(lambda s: s.bytes_saved),
                title="Bytes saved per day",
                fmt=charts.human_bytes,
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
    reasons = Counter()
    for _, row in series:
        if row is not None:
            reasons.update(row.failures_by_reason or {})
    rows = [row for _, row in series if row is not None]
    context = {
        "days": DAYS,
        "charts": [{"title": title, "svg": mark_safe(svg)} for title, svg in chart_list],  # noqa: S308
        "latest": rows[-1] if rows else None,
        "totals": {
            "uploads": sum(r.uploads for r in rows),
            "bytes_saved": charts.human_bytes(sum(r.bytes_saved for r in rows)),
            "failures": sum(r.failures for r in rows),
            "exports": sum(r.exports for r in rows),
            "emails_sent": sum(r.emails_sent for r in rows),
        },
        "reasons": reasons.most_common(10),
        **_now(),
    }
    return render(request, "ops/dashboard.html", context)


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
            "p50": times.duration_ms(r["p50_ms"]) if r["p50_ms"] is not None else "—",
            "p95": times.duration_ms(r["p95_ms"]) if r["p95_ms"] is not None else "—",
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
