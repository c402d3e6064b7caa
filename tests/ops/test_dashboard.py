"""The staff dashboard: charts of the last 30 days and the system's state now."""

import re
import time
from datetime import timedelta
from html import unescape

import pytest
from django.core.cache import cache

from config.core.health import BEAT_HEARTBEAT_KEY
from config.ops.models import DailyStatistics
from config.ops.services import local_today

pytestmark = pytest.mark.django_db(transaction=True)


def chart(body: str, title: str) -> str:
    """The <svg> under the figure captioned ``title``."""
    match = re.search(rf"<figcaption>{re.escape(title)}</figcaption>\s*(<svg.*?</svg>)", body, re.S)
    assert match, f"no chart {title!r}"
    return match.group(1)


def values(svg: str, mark: str = "rect") -> dict[str, str]:
    return dict(re.findall(rf'<{mark} class="\w+" data-label="([^"]+)" data-value="([^"]*)"', svg))


def test_dashboard_draws_the_last_30_days_and_the_state_now(celery_worker, client, make_user):
    today = local_today()
    DailyStatistics.objects.create(
        day=today,
        uploads=12,
        bytes_in=9000,
        bytes_out=3000,
        bytes_saved=6000,
        saving_percent=66.7,
        processing_p95_ms=840,
        failures=2,
        failures_by_reason={"This job took too long and was stopped.": 2},
    )
    DailyStatistics.objects.create(day=today - timedelta(days=3), uploads=4, processing_p95_ms=300)
    DailyStatistics.objects.create(day=today - timedelta(days=45), uploads=99)  # too old to show
    cache.set(BEAT_HEARTBEAT_KEY, time.time() - 3)
    staff = make_user("operator", is_staff=True)
    client.force_login(staff)

    response = client.get("/ops/dashboard/")
    assert response.status_code == 200
    body = response.content.decode()
    label = today.strftime("%b %d")
    uploads = values(chart(body, "Uploads per day"))
    assert len(uploads) == 30 and "99" not in uploads.values()
    assert uploads[label] == "12"
    assert uploads[(today - timedelta(days=3)).strftime("%b %d")] == "4"
    assert uploads[(today - timedelta(days=1)).strftime("%b %d")] == ""  # never computed: no bar
    assert values(chart(body, "Bytes saved per day"))[label] == "6000"
    assert values(chart(body, "Processing time, 95th percentile (ms)"), "circle") == {
        label: "840",
        (today - timedelta(days=3)).strftime("%b %d"): "300",
    }
    assert values(chart(body, "Failures per day"))[label] == "2"
    assert "This job took too long and was stopped." in unescape(body)
    # Now: every queue with a number, this test's worker online, beat's last tick.
    for queue in ("default", "media", "notifications", "reports"):
        assert re.search(rf'data-queue="{queue}">\d+<', body), queue
    assert celery_worker.name in body
    assert re.search(r'id="beat-state">last tick \d+ s ago', body)
    # Offline-safe: nothing is loaded from another host.
    assert not re.search(r'(src|href)="(https?:)?//', body)


def test_dashboard_is_for_staff_only(client, make_user):
    anonymous = client.get("/ops/dashboard/", HTTP_ACCEPT="text/html")
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    client.force_login(make_user("visitor"))
    refused = client.get("/ops/dashboard/")
    assert refused.status_code == 302 and "/admin/login/" in refused["Location"]
