"""The upload flow in Chromium, on a phone-sized screen, with and without JavaScript."""

from __future__ import annotations

import pytest

from tests.browser.fixtures import HAVE_CHROMIUM, INSTALL_HINT, wait_for_js

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not HAVE_CHROMIUM, reason=INSTALL_HINT),
]


def open_page(browser, live_server, *, javascript: bool):
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        java_script_enabled=javascript,
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    return context, page


def log_in(page, user):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw-123456!")
    page.click("button:has-text('Log in')")
    page.wait_for_selector("text=Your photos")


def test_several_photos_with_previews_then_live_tiles(
    browser,
    live_server,
    celery_worker,
    user,
    photos,
    shots,
):
    context, page = open_page(browser, live_server, javascript=True)
    try:
        log_in(page, user)
        page.goto("/media/upload/")
        page.set_input_files(
            "input[name=image]", [str(photos / "Landscape_5.jpg"), str(photos / "Portrait_5.jpg")]
        )
        page.wait_for_selector("#previews li >> nth=1")
        assert page.locator("#previews img").count() == 2
        shots(page, "previews")
        page.click("button:has-text('Upload')")
        page.wait_for_url("**/media/?batch=*")
        wait_for_js(page, "document.querySelectorAll('#gallery .state-SUCCESS').length === 2", timeout=30_000)
        wait_for_js(
            page,
            "[...document.querySelectorAll('#gallery img')].every(i => i.complete && i.naturalWidth > 0)",
            timeout=30_000,
        )
        shots(page, "gallery-ready")
        page.click("#gallery a.tile >> nth=0")
        page.wait_for_selector("text=% smaller")
        assert page.locator(".media-large img").evaluate("i => i.naturalWidth") in (1200, 1800)
        shots(page, "detail")
    finally:
        context.close()


def test_upload_and_result_without_javascript(browser, live_server, celery_worker, user, photos, shots):
    context, page = open_page(browser, live_server, javascript=False)
    try:
        log_in(page, user)
        page.goto("/media/upload/")
        page.set_input_files("input[name=image]", str(photos / "Portrait_2.jpg"))
        page.click("button:has-text('Upload')")
        page.wait_for_url("**/media/*/")
        shots(page, "after-upload")
        # The page refreshes itself (meta refresh in <noscript>) until the picture is ready.
        page.wait_for_selector("text=% smaller", timeout=60_000)
        shots(page, "ready")
        page.goto("/media/upload/")
        page.set_input_files("input[name=image]", str(photos.parent / "pillow" / "broken.png"))
        page.click("button:has-text('Upload')")
        page.wait_for_selector("text=broken.png: This file is not a picture we can read.")
        shots(page, "refused")
    finally:
        context.close()
