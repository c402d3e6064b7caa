"""The upload page (issue 22, point 3), at 390 and 1366 px: the whole drop zone opens the picker,
a pasted picture joins the list, wrong types and sizes are refused before anything is sent, each
file can be removed and shows its own progress (percent, bytes, time left) while the button is
disabled; the upload can be cancelled; the batch page keeps the previews and counts "N of M ready"
live."""

from __future__ import annotations

import json
from unittest import mock

import pytest

from tests.browser.fixtures import axe_problems, log_in, wait_for_js

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = ({"width": 390, "height": 844}, {"width": 1366, "height": 900})

PASTE = """async () => {
  const c = document.createElement("canvas"); c.width = 64; c.height = 48;
  const g = c.getContext("2d"); g.fillStyle = "#c33"; g.fillRect(0, 0, 64, 48);
  const blob = await new Promise((ok) => c.toBlob(ok, "image/png"));
  const dt = new DataTransfer(); dt.items.add(new File([blob], "image.png", {type: "image/png"}));
  document.dispatchEvent(new ClipboardEvent("paste", {clipboardData: dt, bubbles: true}));
}"""


def listed(page) -> list[str]:
    return page.locator("#previews li .name").all_inner_texts()


@pytest.mark.parametrize("viewport", WIDTHS, ids=["390", "1366"])
def test_choose_check_remove_cancel_and_send(
    browser, live_server, user, viewport, testdata, tmp_path, settings, celery_worker, shots
):
    from media_app.models import Image

    photos = testdata / "images" / "photos"
    settings.MEDIA_MAX_UPLOAD_BYTES = 2 * 1024 * 1024
    big = tmp_path / "huge.jpg"
    big.write_bytes(b"\xff\xd8" + b"\0" * (settings.MEDIA_MAX_UPLOAD_BYTES + 10))
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    context = browser.new_context(base_url=live_server.url, viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        log_in(page, user)
        page.goto("/media/upload/")
        # Anywhere in the zone opens the picker, not only its button.
        with page.expect_file_chooser() as chooser:
            page.click("#dropzone .helptext")
        chooser.value.set_files(
            [str(photos / "Landscape_1.jpg"), str(photos / "Portrait_2.jpg"), str(text), str(big)]
        )
        errors = page.locator("#upload-errors")
        errors.wait_for()
        said = errors.inner_text()
        assert "notes.txt: This file is not a picture we can read." in said
        assert "huge.jpg: this file is larger than the 2.0 MB limit." in said
        assert [n.split(" · ")[0] for n in listed(page)] == ["Landscape_1.jpg", "Portrait_2.jpg"]
        # A pasted picture joins the list, with a name of its own.
        page.evaluate(PASTE)
        page.wait_for_selector("#previews li >> nth=2")
        assert listed(page)[2].startswith("pasted-1.png")
        # Removed before sending: gone from the list and from what the form would send.
        page.click("#previews li:has-text('Portrait_2.jpg') button:has-text('Remove')")
        assert [n.split(" · ")[0] for n in listed(page)] == ["Landscape_1.jpg", "pasted-1.png"]
        assert page.evaluate("document.querySelector('input[type=file]').files.length") == 2
        shots(page, f"listed-{viewport['width']}")
        assert not axe_problems(page)

        # Slow the network: each file shows its progress, the button is disabled, Cancel stops it.
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 64 * 1024},
        )
        page.click("#upload-form button[type=submit]")
        assert page.locator("#upload-form button[type=submit]").is_disabled()
        note = page.locator("#previews li >> nth=0 >> .note")
        page.wait_for_selector("#previews li >> nth=0 >> .note:has-text('left')")
        assert " of " in note.inner_text() and "%" in note.inner_text()
        shots(page, f"sending-{viewport['width']}")
        page.click("#upload-cancel")
        page.wait_for_selector("#upload-errors:has-text('Upload cancelled')")
        assert page.locator("#upload-form button[type=submit]").is_enabled()
        assert len(listed(page)) == 2
        assert not Image.objects.filter(owner=user).exists()

        # At full speed: sent, and the batch page counts them in as they are ready.
        cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
        page.click("#upload-form button[type=submit]")
        page.wait_for_url("**/media/?batch=*")
        page.wait_for_selector("#batch-count:has-text('2 of 2 ready')", timeout=90_000)
        assert page.locator("#batch-progress").evaluate("p => p.value") == 2
        shots(page, f"batch-{viewport['width']}")
        # Tiles that became ready on this page open in the lightbox too.
        page.click("#gallery a.tile >> nth=0")
        page.locator("#lightbox").wait_for(state="visible")
        wait_for_js(page, "document.getElementById('lightbox-img').naturalWidth > 0", timeout=20_000)
        assert page.locator("#lightbox-pos").inner_text() == "1 of 2"
    finally:
        context.close()


def test_the_batch_page_shows_the_uploaders_previews_and_counts_live(
    browser, live_server, user, testdata, settings, shots
):
    from media_app import imaging, services
    from tests.helpers import as_upload

    photos = testdata / "images" / "photos"
    uploads = []
    for name in ("Landscape_5.jpg", "Portrait_5.jpg"):
        f = as_upload(photos / name)
        probe = imaging.probe(f, max_pixels=settings.MEDIA_MAX_PIXELS)
        uploads.append(services.Upload(file=f, probe=probe, title=name))
    with mock.patch("config.core.services.job_send"):  # never sent: they stay queued
        pending = services.image_upload(owner=user, uploads=uploads)
    answer = {
        "image_id": pending[0].pk,
        "task_id": pending[0].job.task_id,
        "status_url": f"/tasks/{pending[0].job.task_id}/",
        "images": [{"image_id": i.pk} for i in pending],
        "batch_id": pending[0].batch_id,
    }
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        log_in(page, user)
        page.goto("/media/upload/")
        page.set_input_files(
            "input[name=image]", [str(photos / "Landscape_5.jpg"), str(photos / "Portrait_5.jpg")]
        )

        def fake_upload(route):
            if route.request.method != "POST":
                return route.continue_()
            return route.fulfill(status=202, content_type="application/json", body=json.dumps(answer))

        page.route("**/media/upload/", fake_upload)
        page.click("#upload-form button[type=submit]")
        page.wait_for_url(f"**/media/?batch={pending[0].batch_id}")
        assert page.locator("#batch-count").inner_text() == "0 of 2 ready"
        wait_for_js(
            page,
            "[...document.querySelectorAll('#gallery [data-local-preview] img')]"
            ".filter(i => i.src.startsWith('blob:') && i.complete && i.naturalWidth).length === 2",
            timeout=20_000,
        )
        shots(page, "batch-previews")
    finally:
        context.close()
