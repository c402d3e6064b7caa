"""The gallery (issue 22, point 4), at 390 and 1366 px: sharp tiles (srcset), newest first under
the day they came, a keyboard lightbox with zoom and previous/next, and several pictures selected,
deleted and brought back with Undo (no confirm() box). Without JavaScript the same selection
deletes through a plain form and the Undo bar still works."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.browser.fixtures import axe_problems, log_in, wait_for_js

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = ({"width": 390, "height": 844}, {"width": 1366, "height": 900})


@pytest.fixture
def three_ready(user, testdata, settings, celery_worker, wait_job):
    """Three ready pictures: one uploaded two days ago, two today (the newest last)."""
    from django.utils import timezone

    from media_app import imaging, services
    from media_app.models import Image
    from tests.helpers import as_upload

    made = []
    for name in ("Landscape_1.jpg", "Portrait_2.jpg", "Landscape_3.jpg"):
        f = as_upload(testdata / "images" / "photos" / name)
        probe = imaging.probe(f, max_pixels=settings.MEDIA_MAX_PIXELS)
        [image] = services.image_upload(
            owner=user, uploads=[services.Upload(file=f, probe=probe, title=name.split(".")[0])]
        )
        wait_job(image.job.task_id)
        made.append(image)
    Image.objects.filter(pk=made[0].pk).update(created_at=timezone.now() - timedelta(days=2))
    return made


@pytest.mark.parametrize("viewport", WIDTHS, ids=["390", "1366"])
def test_the_gallery(browser, live_server, user, three_ready, viewport, shots):
    from media_app.models import Image

    context = browser.new_context(base_url=live_server.url, viewport=viewport, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(20_000)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        log_in(page, user)
        page.goto("/media/")
        # Newest first, under their day.
        assert page.locator("#gallery .day h2").all_inner_texts()[0] == "Today"
        assert len(page.locator("#gallery .day h2").all_inner_texts()) == 2
        titles = page.locator("#gallery a.tile").evaluate_all("ts => ts.map(t => t.dataset.title)")
        assert titles == ["Landscape_3", "Portrait_2", "Landscape_1"]
        # Sharp on a 2x screen: the tile picks a wider file than its CSS width.
        wait_for_js(
            page,
            "[...document.querySelectorAll('#gallery img')].every(i => i.complete && i.naturalWidth)",
            timeout=20_000,
        )
        # (naturalWidth is density-corrected: read the chosen candidate's width from its srcset.)
        sharp = page.locator("#gallery a.tile img").first.evaluate(
            """i => {
              const all = [...i.parentElement.querySelectorAll('source'), i]
                .flatMap(s => s.srcset.split(', '));
              const hit = all.find(c => new URL(c.split(' ')[0], location.href).href === i.currentSrc);
              return [parseInt(hit.split(' ')[1]), i.clientWidth];
            }"""
        )
        assert sharp[0] >= 1.5 * sharp[1], sharp
        shots(page, f"gallery-{viewport['width']}")

        # The lightbox, by keyboard: Enter on a tile, arrows, zoom, Esc back to the tile.
        page.focus("#gallery a.tile >> nth=0")
        page.keyboard.press("Enter")
        box = page.locator("#lightbox")
        box.wait_for(state="visible")
        assert page.locator("#lightbox-title").inner_text() == "Landscape_3"
        assert page.locator("#lightbox-pos").inner_text() == "1 of 3"
        wait_for_js(page, "document.getElementById('lightbox-img').naturalWidth > 0", timeout=20_000)
        page.keyboard.press("ArrowRight")
        assert page.locator("#lightbox-title").inner_text() == "Portrait_2"
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("ArrowLeft")
        assert page.locator("#lightbox-title").inner_text() == "Landscape_1"
        wait_for_js(page, "document.getElementById('lightbox-img').naturalWidth > 0", timeout=20_000)
        fitted = page.locator("#lightbox-img").evaluate("i => i.getBoundingClientRect().width")
        page.keyboard.press("+")
        assert box.get_attribute("data-zoom") == "1"
        zoomed = page.locator("#lightbox-img").evaluate("i => i.getBoundingClientRect().width")
        assert zoomed > 1.5 * fitted, (fitted, zoomed)
        shots(page, f"lightbox-{viewport['width']}")
        assert not axe_problems(page)
        page.emulate_media(color_scheme="dark")
        assert not axe_problems(page), "dark theme"
        page.emulate_media(color_scheme="light")
        page.keyboard.press("0")
        assert box.get_attribute("data-zoom") == "0"
        page.keyboard.press("Escape")
        box.wait_for(state="hidden")
        assert page.evaluate("document.activeElement.dataset.title") == "Landscape_1"

        # Select two, delete them: gone at once, no confirm(), and Undo brings them back.
        page.evaluate("window.__noReload = true")
        assert page.locator("#bulk-delete").is_disabled()
        page.check("#gallery .tile-select >> nth=0")
        page.check("#gallery .tile-select >> nth=1")
        assert page.locator("#bulk-count").inner_text() == "2 pictures selected"
        page.click("#bulk-delete")
        page.wait_for_selector("#undo-bar:has-text('Deleted 2 pictures.')")
        assert not dialogs
        assert page.locator("#gallery a.tile:visible").count() == 1
        assert Image.objects.filter(owner=user, deleted_at__isnull=False).count() == 2
        shots(page, f"deleted-{viewport['width']}")
        assert not axe_problems(page)
        page.click("#undo-bar button:has-text('Undo')")
        page.wait_for_selector("#undo-bar", state="hidden")
        assert page.locator("#gallery a.tile:visible").count() == 3
        assert Image.objects.filter(owner=user, deleted_at__isnull=False).count() == 0
        assert page.evaluate("window.__noReload") is True
    finally:
        context.close()


def test_select_and_undo_without_javascript(browser, live_server, user, three_ready):
    from media_app.models import Image

    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        log_in(page, user)
        page.goto("/media/")
        page.check("#gallery .tile-select >> nth=0")
        page.check("#gallery .tile-select >> nth=2")
        page.click("#bulk-delete")
        page.wait_for_selector("#undo-bar:has-text('Deleted 2 pictures.')")
        assert page.locator("#gallery a.tile").count() == 1
        page.click("#undo-bar button:has-text('Undo')")
        page.wait_for_selector("text=Brought back 2 pictures.")
        assert page.locator("#gallery a.tile").count() == 3
        assert not Image.objects.filter(deleted_at__isnull=False).exists()
        # Nothing ticked: a sentence, not an error page.
        page.click("#bulk-delete")
        page.wait_for_selector("text=Choose the pictures to delete.")
    finally:
        context.close()
