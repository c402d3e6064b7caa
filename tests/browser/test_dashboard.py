"""The operations dashboard (issue 22, point 9), at 390 and 1366 px: live without a reload, the
value under the pointer on a chart, recent failures linking to the Jobs admin, and per-task rates
and run times."""

from __future__ import annotations

from datetime import timedelta

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = ({"width": 390, "height": 844}, {"width": 1366, "height": 900})


def job(n: int, *, state: str, ms: int, error: str = "", ago: timedelta = timedelta(minutes=3)):
    from django.utils import timezone

    from config.core.models import Job

    ended = timezone.now() - ago
    return Job.objects.create(
        task_id=f"0f0e0d0c-0000-4000-8000-{n:012d}",
        kind="media.compress",
        task_name="media_app.compress_image",
        state=state,
        error=error,
        started_at=ended - timedelta(milliseconds=ms),
        finished_at=ended,
    )


@pytest.mark.parametrize("viewport", WIDTHS, ids=["390", "1366"])
def test_the_dashboard_is_live(browser, live_server, make_user, viewport, shots):
    from config.ops.models import DailyStatistics
    from config.ops.services import local_today

    DailyStatistics.objects.create(day=local_today(), uploads=12, processing_p95_ms=840, failures=1)
    job(1, state="SUCCESS", ms=300)
    job(2, state="SUCCESS", ms=500)
    failed = job(3, state="FAILURE", ms=1500, error="This picture is damaged and could not be decoded.")
    make_user("operator", is_staff=True, is_superuser=True)
    context = browser.new_context(base_url=live_server.url, viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto("/accounts/login/")
        page.fill("input[name=username]", "operator")
        page.fill("input[name=password]", "pw-123456!")
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        page.goto("/ops/dashboard/")
        page.evaluate("window.__noReload = true")

        # Recent failures, each a link into the Jobs admin that opens.
        link = page.locator("#failures tbody a").first
        assert link.inner_text() == "Picture compression"
        assert link.get_attribute("href") == f"/admin/core/job/{failed.pk}/change/"
        assert "damaged" in page.locator("#failures tbody tr").first.inner_text()
        assert page.request.get(live_server.url + link.get_attribute("href")).status == 200
        # Per task: finished per minute over the hour, failures, median and 95th percentile.
        cells = page.locator("#rates tbody tr").first.locator("th, td").all_inner_texts()
        assert cells == ["media_app.compress_image", "0.05", "1", "500 ms", "1.5 s"], cells

        # Values on hover: today's bar says its number beside the pointer.
        bar = page.locator(".ops-chart:has-text('Uploads per day') rect.bar[data-value='12']")
        bar.hover()
        tip = page.locator("#chart-tip")
        assert tip.is_visible() and tip.inner_text().endswith(": 12")
        shots(page, f"dashboard-{viewport['width']}")
        from tests.browser.test_pages import AXE, run_axe, serious

        if AXE.exists():
            assert not serious(run_axe(page, AXE.read_text()))

        # Live: a new failure shows up on the next update, without a reload.
        job(4, state="FAILURE", ms=50, error="The connection to storage broke.", ago=timedelta(seconds=1))
        page.evaluate("window.backroomDashboardRefresh()")
        page.wait_for_selector("#failures tbody tr:has-text('The connection to storage broke.')")
        assert page.locator("#rates tbody tr").first.locator("td").nth(1).inner_text() == "2"
        assert page.locator("#live-status").inner_text().startswith("Live · updated")
        assert page.evaluate("window.__noReload") is True
        wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 1, f"the dashboard scrolls sideways by {wide}px"
    finally:
        context.close()
