"""The reports page in Chromium: ask, watch the bar, download; and the same without JavaScript."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

from tests.browser.fixtures import HAVE_CHROMIUM, INSTALL_HINT

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not HAVE_CHROMIUM, reason=INSTALL_HINT),
]


def open_page(browser, live_server, *, phone=False, javascript=True):
    size = {"width": 390, "height": 844} if phone else {"width": 1200, "height": 900}
    context = browser.new_context(
        base_url=live_server.url,
        viewport=size,
        is_mobile=phone,
        has_touch=phone,
        java_script_enabled=javascript,
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    return context, page


def log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-123456!")
    page.click("button:has-text('Log in')")
    page.wait_for_load_state()


def test_ask_watch_and_download(browser, live_server, celery_worker, user, shots):
    context, page = open_page(browser, live_server)
    try:
        log_in(page, user.username)
        page.goto("/reports/")
        page.select_option("select[name=kind]", "job_history")
        shots(page, "form")
        page.click("button:has-text('Prepare export')")
        page.wait_for_selector("text=is being prepared")
        # The bar is replaced by a download button by the page's own polling, without a reload.
        button = page.wait_for_selector(".export a.button:has-text('Download')")
        shots(page, "ready")
        with page.expect_download() as info:
            button.click()
        name = info.value.suggested_filename
        assert name.startswith("job_history-") and name.endswith(".xlsx")
        download = info.value
        with open(download.path(), "rb") as fh:
            ws = load_workbook(fh).worksheets[0]
        assert ws["A1"].value == "Kind"
    finally:
        context.close()


def test_works_without_javascript_on_a_phone(browser, live_server, celery_worker, user, shots):
    context, page = open_page(browser, live_server, phone=True, javascript=False)
    try:
        log_in(page, user.username)
        page.goto("/reports/")
        page.select_option("select[name=kind]", "media_inventory")
        page.click("button:has-text('Prepare export')")
        page.wait_for_selector("text=is being prepared")
        # The meta refresh (inside <noscript>) reloads the page until the export is ready.
        page.wait_for_selector(".export a.button:has-text('Download')", timeout=60_000)
        shots(page, "phone-ready")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    finally:
        context.close()
