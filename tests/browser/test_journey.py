"""A person's path through Backroom in Chromium, with a real worker, Redis and SMTP server.

Each step saves a screenshot under the test's tmp dir (pytest --basetemp to keep them).
"""

from __future__ import annotations

import io
import re
from urllib.parse import urlsplit

import pytest
from openpyxl import load_workbook

from tests.browser.fixtures import wait_for_js
from tests.harness import WorkerProcess, publishing_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-passphrase-42"


def sign_up(page, username: str) -> None:
    page.goto("/accounts/signup/")
    page.fill("input[name=username]", username)
    page.fill("input[name=email]", f"{username}@example.com")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("button:has-text('Sign up')")
    page.wait_for_selector(f"text=Welcome, {username}")


def badge_count(page) -> int:
    badge = page.locator("#unread-badge")
    return 0 if badge.is_hidden() else int(badge.inner_text())


def test_a_persons_path(page, browser, live_server, celery_worker, smtp, testdata, shots):
    photos = testdata / "images" / "photos"

    # Sign up, and the welcome email arrives with both parts.
    sign_up(page, "dana")
    shots(page, "signed-up")
    [welcome] = smtp.wait_for(1)
    assert welcome["to"] == ["dana@example.com"]
    parts = {p.get_content_type() for p in welcome["message"].walk()}
    assert {"text/plain", "text/html"} <= parts

    # Upload two photos; their thumbnails appear without a reload.
    page.goto("/media/upload/")
    shots(page, "upload-page")
    page.set_input_files(
        "input[name=image]", [str(photos / "Landscape_6.jpg"), str(photos / "Portrait_8.jpg")]
    )
    page.wait_for_selector("#previews img >> nth=1")
    shots(page, "previews")
    page.click("button:has-text('Upload')")
    page.wait_for_url("**/media/?batch=*")
    page.evaluate("window.__noReload = true")
    shots(page, "gallery-processing")
    wait_for_js(page, "document.querySelectorAll('#gallery .state-SUCCESS').length === 2", timeout=90_000)
    wait_for_js(
        page,
        "[...document.querySelectorAll('#gallery img')].every(i => i.complete && i.naturalWidth > 0)",
        timeout=20_000,
    )
    assert page.evaluate("window.__noReload") is True, "the gallery reloaded instead of updating"
    shots(page, "gallery-ready")

    # The badge counts the notifications (welcome + images ready) without a reload.
    page.evaluate("window.backroomRefreshBadge && window.backroomRefreshBadge()")
    wait_for_js(page, "document.getElementById('unread-badge').textContent.trim() === '2'", timeout=20_000)
    shots(page, "badge")

    # A broken file: the person reads a clear error.
    page.goto("/media/upload/")
    page.set_input_files("input[name=image]", str(testdata / "images" / "pillow" / "broken_data_stream.png"))
    page.click("button:has-text('Upload')")
    # Refused at upload (a form error) or failed on the worker (the image page says why).
    page.wait_for_selector("#upload-errors:not([hidden]), [role=alert]", timeout=60_000)
    body = page.inner_text("main")
    assert re.search(r"(damaged|could not|can.t|cannot|not an image)", body, re.I), body
    assert "Traceback" not in body
    shots(page, "broken-file")

    # An export: its progress bar reaches 100 %, and the download opens with openpyxl.
    page.goto("/reports/")
    page.select_option("select[name=kind]", "media_inventory")
    page.click("button:has-text('Prepare export')")
    page.wait_for_selector(".export")
    shots(page, "export-requested")
    page.wait_for_selector(".export a.button:has-text('Download')", timeout=90_000)
    assert page.locator(".export progress").first.evaluate("p => p.value") == 100
    shots(page, "export-ready")
    with page.expect_download() as info:
        page.click(".export a.button:has-text('Download')")
    download = info.value
    assert re.fullmatch(r"media_inventory-\d{4}-\d{2}-\d{2}\.xlsx", download.suggested_filename)
    sheet = load_workbook(io.BytesIO(open(download.path(), "rb").read()), read_only=True).active
    rows = list(sheet.values)
    assert len(rows) == 1 + 3  # header + the two photos + the broken upload (failed)
    assert "Title" in rows[0][0] or rows[0][0]

    # Another person opens dana's image URL: the not-found page, nothing of dana's.
    from media_app.models import Image

    image_url = f"/media/{Image.objects.filter(owner__username='dana').first().pk}/"
    other = browser.new_context(base_url=live_server.url)
    try:
        intruder = other.new_page()
        sign_up(intruder, "eve")
        response = intruder.goto(image_url)
        assert response.status == 404
        assert intruder.locator("h1").inner_text() == "Not found"
        assert "Landscape" not in intruder.content()
        shots(intruder, "other-user-not-found")
    finally:
        other.close()


def test_pages_fit_a_phone(phone_page, user, shots):
    page = phone_page
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw-123456!")
    page.click("button:has-text('Log in')")
    for path in ["/media/", "/media/upload/", "/reports/", "/notifications/", "/notifications/preferences/"]:
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
        shots(page, path.strip("/").replace("/", "-") or "home")


# --- The "Done when" journey of issue 22, at both widths ------------------------------------------

WIDTHS = ({"width": 390, "height": 844}, {"width": 1366, "height": 900})
URL = re.compile(r"https?://[^\s<>\"]+")


def text_of(message) -> str:
    return next(p.get_content() for p in message["message"].walk() if p.get_content_type() == "text/plain")


def email_with(smtp, needle: str, timeout: float = 90) -> str:
    """The text of the first email received whose text contains ``needle``."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in list(smtp.messages):
            text = text_of(message)
            if needle in text:
                return text
        time.sleep(0.2)
    raise AssertionError(f"no email containing {needle!r} in {timeout:g} s")


LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def on_the_site(url: str, site: str) -> str:
    """An email's link, as it stands: it must name the running site's own address and port."""
    assert url == site or url.startswith(site + "/"), f"{url} is not on the site at {site}"
    return url


@pytest.fixture
def site_worker(live_server, settings, django_db_blocker, smtp_server):
    """A worker of the journey's own whose SITE_URL is the live server's address, port included, so
    the links in the emails it writes are those a person would follow. It takes its tasks from a
    Redis database of its own, to which this process (the live server's requests included) publishes
    meanwhile: the session's worker, whose SITE_URL is the test settings', cannot take them."""
    import redis

    settings.SITE_URL = live_server.url  # and any link made in a request
    broker = settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + "/13"
    redis.Redis.from_url(broker).flushdb()  # nothing left from an earlier journey
    with django_db_blocker.unblock():
        worker = WorkerProcess(env={"CELERY_BROKER_URL": broker, "SITE_URL": live_server.url}).start()
    try:
        with publishing_to(broker):
            yield worker
    finally:
        worker.stop()


def links_answer(page, checked: set[str]) -> None:
    """Every same-site link on the page answers 200, after any redirect (each checked once); none
    leads to another port of this machine (an address made from the wrong SITE_URL)."""
    origin = urlsplit(page.url)
    hrefs = page.locator("a[href]").evaluate_all("as => as.map(a => a.href)")
    for href in hrefs:
        target = urlsplit(href)
        if target.scheme not in ("http", "https"):
            continue
        if target.netloc != origin.netloc:
            assert target.hostname not in LOOPBACK, (page.url, href, "another port of this machine")
            continue
        href = href.split("#")[0]
        if href in checked or "/unsubscribe/" in href:
            continue
        checked.add(href)
        status = page.request.get(href).status
        assert status == 200, (page.url, href, status)


@pytest.mark.parametrize("viewport", WIDTHS, ids=["390", "1366"])
def test_the_whole_journey(browser, live_server, site_worker, smtp, testdata, tmp_path, viewport, shots):
    from media_app.models import Image

    name = f"jo{viewport['width']}"
    photos = sorted((testdata / "images" / "photos").glob("*.jpg"))
    again = tmp_path / "Landscape_0 again.jpg"
    again.write_bytes(photos[0].read_bytes())
    files = [*photos, again, testdata / "images" / "pillow" / "broken_data_stream.png"]
    assert len(files) == 20
    context = browser.new_context(
        base_url=live_server.url, viewport=viewport, is_mobile=viewport["width"] < 600
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    checked: set[str] = set()
    try:
        # Sign up, and follow the link of the welcome email.
        sign_up(page, name)
        links_answer(page, checked)
        welcome = email_with(smtp, "Confirm that this address is yours")
        confirm = next(
            u for u in URL.findall(welcome) if "/verify/" in u or "confirm" in u or "/accounts/" in u
        )
        # Opened as written, absolute: the address and port in the email are the running site's.
        response = page.goto(on_the_site(confirm, live_server.url))
        assert response.status == 200
        assert page.url.startswith(live_server.url + "/")
        # Every link of the email answers (unsubscribing's GET only asks).
        for url in URL.findall(welcome):
            assert page.request.get(on_the_site(url, live_server.url)).status == 200, url
        shots(page, "confirmed")

        # Upload twenty photos, one of them broken, and watch them arrive on the batch page.
        page.goto("/media/upload/")
        page.set_input_files("input[name=image]", [str(f) for f in files])
        page.wait_for_selector("#previews li >> nth=19")
        page.click("#upload-form button[type=submit]")
        page.wait_for_url("**/media/?batch=*")
        page.evaluate("window.__noReload = true")
        shots(page, "arriving")
        page.wait_for_selector(
            "#batch-count:has-text('19 of 20 ready; 1 could not be processed')", timeout=240_000
        )
        assert page.evaluate("window.__noReload") is True
        assert Image.objects.filter(owner__username=name, state=Image.State.READY).count() == 19
        shots(page, "arrived")

        # Find one in the gallery and open it in the lightbox.
        page.goto("/media/")
        links_answer(page, checked)
        page.click("#gallery a.tile[data-title='Portrait_3']")
        page.locator("#lightbox").wait_for(state="visible")
        assert page.locator("#lightbox-title").inner_text() == "Portrait_3"
        wait_for_js(page, "document.getElementById('lightbox-img').naturalWidth > 0", timeout=20_000)
        shots(page, "lightbox")
        page.keyboard.press("Escape")

        # Export a report; the emailed link downloads it.
        page.goto("/reports/")
        page.select_option("select[name=kind]", "media_inventory")
        page.click("button:has-text('Prepare export')")
        page.wait_for_selector(".export a.button:has-text('Download')", timeout=120_000)
        links_answer(page, checked)
        ready = email_with(smtp, "/reports/exports/")
        link = next(u for u in URL.findall(ready) if "/reports/exports/" in u)
        download = page.request.get(on_the_site(link, live_server.url))
        assert download.status == 200
        for url in URL.findall(ready):
            assert page.request.get(on_the_site(url, live_server.url)).status == 200, url
        sheet = load_workbook(io.BytesIO(download.body()), read_only=True).active
        assert len(list(sheet.values)) == 1 + 20
        page.goto("/notifications/")
        links_answer(page, checked)
        shots(page, "notifications")
        assert len(checked) > 20
    finally:
        context.close()
