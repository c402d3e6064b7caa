"""A picture's page (issue 22, point 5), at 390 and 1366 px: when it was uploaded, a rename in
place, a link and a <picture> snippet to copy for each size, a before/after comparison, and a
Delete that looks destructive and can be undone from the gallery (no confirm() box). Without
JavaScript the rename and the undo still work as plain forms."""

from __future__ import annotations

import pytest

from tests.browser.fixtures import axe_problems, log_in, wait_for_js

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = ({"width": 390, "height": 844}, {"width": 1366, "height": 900})


@pytest.fixture
def ready_image(user, testdata, settings, celery_worker, wait_job):
    from media_app import imaging, services
    from tests.helpers import as_upload

    f = as_upload(testdata / "images" / "photos" / "Landscape_3.jpg")
    probe = imaging.probe(f, max_pixels=settings.MEDIA_MAX_PIXELS)
    [image] = services.image_upload(owner=user, uploads=[services.Upload(file=f, probe=probe, title="Hills")])
    wait_job(image.job.task_id)
    return image


@pytest.mark.parametrize("viewport", WIDTHS, ids=["390", "1366"])
def test_the_detail_page(browser, live_server, user, ready_image, viewport, shots):
    from media_app.models import Image

    context = browser.new_context(base_url=live_server.url, viewport=viewport)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        log_in(page, user)
        page.goto(f"/media/{ready_image.pk}/")
        page.evaluate("window.__noReload = true")
        assert page.locator(".media-when").inner_text().startswith("Uploaded just now")

        # Rename in place: the title changes without a reload.
        page.click("#rename summary")
        page.fill("#rename-form input[name=title]", "Green hills")
        page.keyboard.press("Enter")
        page.wait_for_selector("#image-title:has-text('Green hills')")
        assert page.evaluate("window.__noReload") is True
        assert Image.objects.get(pk=ready_image.pk).title == "Green hills"
        assert page.title().startswith("Green hills ·")
        # An empty title is refused with words, in place.
        page.click("#rename summary")
        page.fill("#rename-form input[name=title]", "   ")
        page.keyboard.press("Enter")
        page.wait_for_selector("#rename-errors:has-text('Give the picture a title.')")
        page.keyboard.press("Escape")

        # Each size: a link to copy (it answers 200) and a <picture> snippet.
        sizes = page.locator(".media-renditions > li")
        assert sizes.count() >= 3
        first = sizes.first
        first.locator("[data-copy]").click()
        first.locator("[data-copy]:has-text('Copied')").wait_for()
        link = page.evaluate("navigator.clipboard.readText()")
        assert link.startswith(live_server.url + f"/media/{ready_image.pk}/")
        assert page.request.get(link).status == 200
        first.locator("summary").click()
        snippet = first.locator("textarea").input_value()
        assert snippet.startswith("<picture>") and '<source type="image/webp"' in snippet
        assert 'alt="Green hills"' in snippet
        first.locator("[data-copy-from]").click()
        first.locator("[data-copy-from]:has-text('Copied')").wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == snippet
        assert first.locator("img").get_attribute("alt").startswith("Green hills, ")

        # Before and after: the original laid over the result, cut where the slider says.
        page.locator("#compare").scroll_into_view_if_needed()
        page.fill("#compare-range", "20")
        clip = page.locator(".compare-before").evaluate("f => getComputedStyle(f).clipPath")
        assert clip == "inset(0px 80% 0px 0px)", clip
        for img in page.locator("#compare img").all():
            img.evaluate("i => i.loading = 'eager'")
        wait_for_js(
            page,
            "[...document.querySelectorAll('#compare img')].every(i => i.complete && i.naturalWidth)",
            timeout=20_000,
        )
        shots(page, f"detail-{viewport['width']}")
        assert not axe_problems(page)
        page.emulate_media(color_scheme="dark")
        assert not axe_problems(page), "dark theme"
        page.emulate_media(color_scheme="light")

        # Delete looks destructive, asks nothing, and can be undone.
        delete = page.locator("button:has-text('Delete')")
        colours = delete.evaluate("b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]")
        assert colours[0] in ("rgb(176, 42, 42)",), colours
        delete.click()
        page.wait_for_url("**/media/")
        assert not dialogs
        bar = page.locator("#undo-bar")
        assert bar.is_visible() and "Deleted “Green hills”" in bar.inner_text()
        shots(page, f"undo-{viewport['width']}")
        bar.locator("button:has-text('Undo')").click()
        page.wait_for_url(f"**/media/{ready_image.pk}/")
        assert Image.objects.get(pk=ready_image.pk).deleted_at is None
    finally:
        context.close()


def test_rename_and_undo_without_javascript(browser, live_server, user, ready_image):
    from media_app.models import Image

    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        log_in(page, user)
        page.goto(f"/media/{ready_image.pk}/")
        page.click("#rename summary")
        page.fill("#rename-form input[name=title]", "")
        page.click("#rename-form button")
        assert page.locator("#rename-errors").inner_text().strip() == "Give the picture a title."
        page.fill("#rename-form input[name=title]", "Hills at dusk")
        page.click("#rename-form button")
        page.wait_for_selector("#image-title:has-text('Hills at dusk')")
        # The copy buttons need JavaScript: hidden; the snippet is there to select.
        assert page.locator("[data-copy]").first.is_hidden()
        page.click("button:has-text('Delete')")
        page.wait_for_url("**/media/")
        # The picture's old link says what happened and offers the way back (still a 404).
        response = page.goto(f"/media/{ready_image.pk}/")
        assert response.status == 404
        assert page.locator("h1").inner_text() == "This picture was deleted"
        assert "You deleted “Hills at dusk” just now" in page.inner_text("main")
        page.click("button:has-text('Bring it back')")
        page.wait_for_url(f"**/media/{ready_image.pk}/")
        assert Image.objects.get(pk=ready_image.pk).title == "Hills at dusk"
    finally:
        context.close()
