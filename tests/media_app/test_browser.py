"""The upload flow in Chromium, on a phone-sized screen, with and without JavaScript."""

from __future__ import annotations

import re

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
        # A ready tile opens the lightbox (issue 22, point 4); its "Open page" leads to the picture's page.
        page.click("#gallery a.tile >> nth=0")
        page.click("#lightbox-open")
        page.wait_for_selector("text=% smaller")
        # A phone-sized file for a phone (390 px screen): AVIF at 640 or 1024, never the 1800 px one.
        chosen = page.locator(".media-large img").evaluate("i => [i.currentSrc, i.naturalWidth]")
        assert re.search(r"/media/\d+/(small|medium)\.avif\?v=\d+$", chosen[0]) and chosen[1] > 0, chosen
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


def make_image(user, path, settings, *, send: bool):
    from unittest import mock

    from media_app import imaging, services
    from tests.helpers import as_upload

    f = as_upload(path)
    probe = imaging.probe(f, max_pixels=settings.MEDIA_MAX_PIXELS)
    upload = services.Upload(file=f, probe=probe, title=path.stem)
    if send:
        return services.image_upload(owner=user, uploads=[upload])[0]
    with mock.patch("config.core.services.job_send"):  # never sent: it stays PENDING
        return services.image_upload(owner=user, uploads=[upload])[0]


def test_the_uploader_sees_its_own_preview_while_the_picture_is_processed(
    browser, live_server, user, photos, shots, settings
):
    import json

    pending = make_image(user, photos / "Landscape_5.jpg", settings, send=False)
    context, page = open_page(browser, live_server, javascript=True)
    try:
        log_in(page, user)
        page.goto("/media/upload/")
        page.set_input_files("input[name=image]", str(photos / "Landscape_5.jpg"))
        page.wait_for_selector("#previews img")
        # The server's answer names the pending image; the page's own code does the rest.
        answer = {
            "image_id": pending.pk,
            "task_id": pending.job.task_id,
            "status_url": f"/tasks/{pending.job.task_id}/",
            "images": [{"image_id": pending.pk}],
            "batch_id": pending.batch_id,
        }

        def fake_upload(route):
            if route.request.method != "POST":
                return route.continue_()
            return route.fulfill(status=202, content_type="application/json", body=json.dumps(answer))

        page.route("**/media/upload/", fake_upload)
        page.click("button:has-text('Upload')")
        page.wait_for_url(f"**/media/{pending.pk}/")
        local = page.locator(f"[data-local-preview='{pending.pk}'] img")
        local.wait_for()
        page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=local.element_handle())
        assert local.get_attribute("src").startswith("blob:")  # img-src 'self' blob: suffices
        assert local.evaluate("i => i.naturalWidth > i.naturalHeight")  # the landscape, upright
        shots(page, "local-preview")
    finally:
        context.close()


def test_the_placeholder_until_the_picture_loads_and_a_click_moves_the_focal_point(
    browser, live_server, celery_worker, user, photos, shots, settings, wait_job
):
    from config.core.models import Job
    from media_app import services
    from media_app.models import Image

    image = make_image(user, photos / "Landscape_3.jpg", settings, send=True)
    wait_job(image.job.task_id)
    context, page = open_page(browser, live_server, javascript=True)
    try:
        log_in(page, user)
        held, release = [], []

        def hold(route):
            if release:
                return route.continue_()
            held.append(route)

        page.route(f"**/media/{image.pk}/*.*", hold)
        page.goto(f"/media/{image.pk}/", wait_until="domcontentloaded")
        blur = page.locator("#focus-picture canvas.media-blur")
        blur.wait_for()
        # Drawn from the hash: opaque pixels, the preview's 32 px on the long side.
        assert blur.evaluate("c => [c.width, c.getContext('2d').getImageData(5, 5, 1, 1).data[3]]") == [
            32,
            255,
        ]
        shots(page, "placeholder")
        release.append(True)
        for route in held:
            route.continue_()
        # Functions, not expressions: Playwright evals an expression in the page, which the CSP refuses.
        page.wait_for_function("() => !document.querySelector('#focus-picture canvas.media-blur')")
        big = page.locator("#focus-picture img")
        assert big.evaluate("i => i.complete && i.naturalWidth > 0")

        # Click a quarter across and a third down: saved, and the square cut again.
        box = big.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 3)
        page.wait_for_selector("text=Square crop updated.", timeout=60_000)
        image = Image.objects.get(pk=image.pk)
        assert abs(image.focal_x - 0.25) <= 0.02 and abs(image.focal_y - 1 / 3) <= 0.02
        marker = page.locator(".focal-marker")
        assert marker.is_visible()
        shots(page, "focal-point")

        # The keyboard way: the slider, then the button.
        page.locator("#focus-status").evaluate("s => { s.textContent = ''; }")
        page.focus("#id_x")
        page.keyboard.press("End")
        page.focus("button:has-text('Save focal point')")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "() => document.getElementById('focus-status').textContent === 'Square crop updated.'",
            timeout=60_000,
        )
        assert Image.objects.get(pk=image.pk).focal_x == 1.0
        assert Job.objects.filter(kind=services.SQUARE_JOB_KIND, state="SUCCESS").count() == 2
    finally:
        context.close()
