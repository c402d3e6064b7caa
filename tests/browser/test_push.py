"""Pushed job status in real pages (issue 21, item 3): the reports page and the gallery in Chromium,
served by the Procfile's web command (uvicorn: a stream is pushed event by event, which
pytest-django's WSGI live_server cannot do), a real worker and Redis.

The page watches all its jobs over one EventSource stream and never polls while it works; refused
or cut, the page falls back to polling /tasks/<id>/. Either way each export reaches Download.
"""

from __future__ import annotations

import mimetypes
import re
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from config.core import services
from tests.browser.fixtures import HAVE_CHROMIUM, INSTALL_HINT, wait_for_js
from tests.webserver import WebServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not HAVE_CHROMIUM, reason=INSTALL_HINT),
]

STREAM = re.compile(r"^/tasks/stream/$")
POLL = re.compile(r"^/tasks/[0-9a-f-]{36}/$")

# Runs before the page's scripts: notes the state of every job event any EventSource of the page
# receives (listeners run in the order added, so this one sees each event before app.js does).
RECORD_EVENTS = """
window.__pushed = [];
(function () {
  const Real = window.EventSource;
  if (!Real) return;
  window.EventSource = class extends Real {
    constructor(url, options) {
      super(url, options);
      this.addEventListener("job", (e) => window.__pushed.push(JSON.parse(e.data).state));
    }
  };
})();
"""


@pytest.fixture(scope="module")
def web(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = WebServer(WEB_CONCURRENCY="1", env={"PUSH_HEARTBEAT": "1"}).start()
    yield server
    server.stop()


def serve_static(route) -> None:
    """Static files from the apps' own folders (the tests run no collectstatic, and the web command
    serves only STATIC_ROOT); the HTML, the stream and the polls are the server's."""
    from django.contrib.staticfiles import finders

    name = urlsplit(route.request.url).path.removeprefix("/static/")
    found = finders.find(name)
    if not found:
        return route.fulfill(status=404, body="")
    kind = mimetypes.guess_type(found)[0] or "application/octet-stream"
    return route.fulfill(status=200, content_type=kind, body=Path(found).read_bytes())


class Traffic:
    """The page's requests to the job endpoints, by kind."""

    def __init__(self, page) -> None:
        self.streams: list[str] = []
        self.polls: list[str] = []
        page.on("request", self._seen)

    def wait_until(self, page, condition, *, timeout: float) -> None:
        """Let the page run (its request events come in meanwhile) until ``condition()`` holds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout:g} s: streams {self.streams}, polls {self.polls}")
            page.wait_for_timeout(100)

    def _seen(self, request) -> None:
        path = urlsplit(request.url).path
        if STREAM.match(path):
            self.streams.append(request.url)
        elif POLL.match(path):
            self.polls.append(path)


def open_page(browser, web, user, path: str, *, refuse_stream=None):
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{web.port}", viewport={"width": 1200, "height": 900}
    )
    context.add_init_script(RECORD_EVENTS)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.route("**/static/**", serve_static)
    if refuse_stream is not None:
        page.route("**/tasks/stream/**", refuse_stream)
    traffic = Traffic(page)
    # Landing on a page that watches no job (the gallery, the default, would watch ours).
    page.goto("/accounts/login/?next=/notifications/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw-123456!")
    page.click("button:has-text('Log in')")
    page.wait_for_url("**/notifications/")
    page.goto(path)
    return context, page, traffic


def held_exports(user, n: int):
    """Exports with their job rows, as export_request writes them, but not sent yet: the page is
    watching before anything happens (the test sends each with the real job_send)."""
    from config.core.models import Job
    from reports import services as reports_services
    from reports.models import Export, export_storage_name

    exports = []
    for _ in range(n):
        export = Export.objects.create(
            owner=user, kind="job_history", storage_name=export_storage_name("xlsx")
        )
        export.job = Job.objects.create(
            task_id=str(uuid.uuid4()),
            owner=user,
            kind=reports_services.JOB_KIND,
            task_name=reports_services.TASK_NAME,
            args=[export.pk],
        )
        export.save(update_fields=["job"])
        exports.append(export)
    return exports


def downloads(page) -> int:
    return page.locator(".export a.button:has-text('Download')").count()


def test_the_page_follows_its_jobs_over_one_stream_and_never_polls(browser, web, celery_worker, user, shots):
    exports = held_exports(user, 2)
    context, page, traffic = open_page(browser, web, user, "/reports/")
    try:
        assert page.locator(".export[data-task-url]").count() == 2
        # The snapshot of both jobs has arrived: the stream is subscribed, so no change can be missed.
        wait_for_js(page, "window.__pushed.filter((s) => s === 'QUEUED').length === 2", timeout=20_000)
        shots(page, "watching")
        for export in exports:
            services.job_send(job=export.job)
        wait_for_js(page, "document.querySelectorAll('.export a.button').length === 2", timeout=60_000)
        shots(page, "ready")
        pushed = page.evaluate("window.__pushed")
        assert pushed.count("SUCCESS") == 2 and "STARTED" in pushed, pushed  # changes, not only snapshots
        assert downloads(page) == 2
        assert len(traffic.streams) == 1, traffic.streams
        (asked,) = parse_qs(urlsplit(traffic.streams[0]).query)["ids"]
        assert set(asked.split(",")) == {e.job.task_id for e in exports}
        assert traffic.polls == []
    finally:
        context.close()


def refuse(route) -> None:
    route.fulfill(status=503, content_type="application/json", body='{"error": "Try again shortly."}')


def cut(route) -> None:
    route.abort("connectionreset")


def unavailable(route) -> None:
    """What the server itself sends when it cannot subscribe (Redis away: config/core/push.py)."""
    route.fulfill(
        status=200, content_type="text/event-stream", body="retry: 2000\n\nevent: unavailable\ndata: {}\n\n"
    )


@pytest.mark.parametrize(
    ("refuse_stream", "streams_tried"),
    [(refuse, 1), (cut, 3), (unavailable, 1)],
    ids=["refused", "cut", "unavailable"],
)
def test_without_the_stream_the_page_polls_and_still_gets_there(
    browser, web, celery_worker, user, shots, refuse_stream, streams_tried
):
    (export,) = held_exports(user, 1)
    context, page, traffic = open_page(browser, web, user, "/reports/", refuse_stream=refuse_stream)
    try:
        # Refused (a 503: EventSource gives up at once), cut (it reconnects; app.js stops at the
        # third error in a row) or told "unavailable": either way the page polls the job instead.
        traffic.wait_until(page, lambda: traffic.polls, timeout=30)
        services.job_send(job=export.job)
        page.wait_for_selector(".export a.button:has-text('Download')", timeout=60_000)
        shots(page, "ready-by-polling")
        assert page.evaluate("window.__pushed") == []
        assert len(traffic.streams) == streams_tried, traffic.streams
        assert set(traffic.polls) == {f"/tasks/{export.job.task_id}/"}
        assert len(traffic.polls) >= 2  # it polled on until the job was final
    finally:
        context.close()


def test_a_job_cancelled_elsewhere_turns_its_gallery_tile_cancelled(browser, web, user, shots):
    """The admin (or another tab) cancels a picture's job: the gallery watching it says so at once."""
    from config.core.models import Job
    from media_app import services as media_services
    from media_app.models import Image

    image = Image.objects.create(
        owner=user, original=f"media/originals/{user.pk}/held.jpg", original_format="JPEG", title="held"
    )
    image.job = Job.objects.create(
        task_id=str(uuid.uuid4()),
        owner=user,
        kind=media_services.JOB_KIND,
        task_name=media_services.TASK_NAME,
        args=[image.pk],
    )
    image.save(update_fields=["job"])
    context, page, traffic = open_page(browser, web, user, "/media/")
    try:
        badge = page.locator(f"#gallery a.tile[href='/media/{image.pk}/'] [data-role=state]")
        wait_for_js(page, "window.__pushed.includes('QUEUED')", timeout=20_000)
        services.job_cancel(job=image.job)
        page.wait_for_selector(f"#gallery a.tile[href='/media/{image.pk}/'] .state-CANCELLED")
        shots(page, "cancelled")
        assert badge.text_content() == "Cancelled"
        assert page.evaluate("window.__pushed") == ["QUEUED", "CANCELLED"]
        assert len(traffic.streams) == 1 and traffic.polls == []
    finally:
        context.close()


def test_an_export_cancelled_elsewhere_loses_its_cancel_button_and_one_cancelled_here_says_so(
    browser, web, user, shots
):
    away, here = held_exports(user, 2)
    context, page, traffic = open_page(browser, web, user, "/reports/")
    try:
        wait_for_js(page, "window.__pushed.filter((s) => s === 'QUEUED').length === 2", timeout=20_000)
        services.job_cancel(job=away.job)  # the admin, or another tab
        gone = page.locator(f"#export-{away.pk}")
        gone.locator(".state-CANCELLED").wait_for()
        gone.locator("button:has-text('Cancel')").wait_for(state="detached")
        assert page.locator(f"#export-{here.pk} button:has-text('Cancel')").count() == 1
        assert page.evaluate("window.__pushed") == ["QUEUED", "QUEUED", "CANCELLED"]
        assert len(traffic.streams) == 1 and traffic.polls == []
        shots(page, "cancelled-elsewhere")

        page.click(f"#export-{here.pk} button:has-text('Cancel')")
        page.wait_for_selector("text=Cancelled. The job will not run.")
        assert (
            page.locator(f"#export-{here.pk} [data-role=state]").text_content() == "Cancelled"
        )  # the pages' word for it (config.core.words)
        assert page.locator(".export button:has-text('Cancel')").count() == 0
        shots(page, "cancelled-here")
    finally:
        context.close()
