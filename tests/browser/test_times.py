"""Times on the pages (issue 22, point 6), for a person in Tokyo, at 390 and 1366 px: relative
words for recent moments, the full date with the zone on hover, the words kept fresh by
core/times.js, durations under a second in milliseconds."""

from __future__ import annotations

from datetime import timedelta

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = ({"width": 390, "height": 844}, {"width": 1366, "height": 900})


@pytest.mark.parametrize("viewport", WIDTHS, ids=["390", "1366"])
def test_times_read_in_the_viewers_zone(browser, live_server, user, viewport, shots):
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from config.accounts.models import Profile
    from media_app.models import Image
    from notifications.models import Notification
    from notifications.services import notify

    Profile.objects.update_or_create(user=user, defaults={"time_zone": "Asia/Tokyo"})
    note = notify(user=user, kind="general", title="Your picture is ready", body="Ready.", email=False)
    Notification.objects.filter(pk=note.pk).update(
        created_at=timezone.now() - timedelta(minutes=5, seconds=5)
    )
    image = Image(owner=user, title="Quick one", original_format="PNG", state=Image.State.FAILED)
    image.original.save("x.png", ContentFile(b"x"), save=False)
    image.processing_ms = 412
    image.save()
    from reports.models import Export

    Export.objects.create(owner=user, kind="job_history", state="FAILURE", error="It broke.")

    context = browser.new_context(base_url=live_server.url, viewport=viewport, timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto("/accounts/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", "pw-123456!")
        page.click("main button[type=submit]")
        page.wait_for_url("**/media/**")

        page.goto("/notifications/")
        moment = page.locator(".notif-meta time")
        assert moment.inner_text() == "5 minutes ago"
        assert moment.get_attribute("title").endswith("(Asia/Tokyo)")
        shots(page, "notification-time")
        # An open page keeps its words true: the same element, ten minutes older.
        page.evaluate(
            """() => { const t = document.querySelector('.notif-meta time');
                       t.setAttribute('datetime', new Date(Date.now() - 600000).toISOString());
                       window.backroomTimes.refresh(); }"""
        )
        assert moment.inner_text() == "10 minutes ago"

        page.goto("/reports/")
        asked = page.locator(".export-meta time")
        assert asked.inner_text() == "just now"
        assert asked.get_attribute("title").endswith("(Asia/Tokyo)")
        assert page.locator("text=Times are in your time zone, Asia/Tokyo").count() == 1

        page.goto(f"/media/{image.pk}/")
        uploaded = page.locator(".media-when time")
        assert uploaded.inner_text() == "just now"
        assert "(Asia/Tokyo)" in uploaded.get_attribute("title")
    finally:
        context.close()


def test_durations_under_a_second_read_in_milliseconds(page, user, celery_worker, testdata):
    from media_app.models import Image

    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw-123456!")
    page.click("main button[type=submit]")
    page.wait_for_url("**/media/**")
    page.goto("/media/upload/")
    page.set_input_files("input[name=image]", str(testdata / "images" / "photos" / "Landscape_5.jpg"))
    page.click("main button[type=submit]")
    page.wait_for_selector("text=% smaller", timeout=60_000)
    image = Image.objects.get(owner=user)
    Image.objects.filter(pk=image.pk).update(processing_ms=412)
    page.reload()
    assert page.locator(".media-sizes tr:has-text('Took') td").inner_text() == "412 ms"
    Image.objects.filter(pk=image.pk).update(processing_ms=2500)
    page.reload()
    assert page.locator(".media-sizes tr:has-text('Took') td").inner_text() == "2.5 s"
