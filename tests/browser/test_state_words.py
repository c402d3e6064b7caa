"""One set of state words on every page (issue 22, point 7): the gallery, a picture's page and the
reports page say Queued, Running, Ready, Failed, Cancelled (and Expired for an export whose file is
gone), never a code such as SUCCESS or PROCESSING; the live updates use the same words."""

from __future__ import annotations

import pytest

from tests.browser.fixtures import log_in, wait_for_js

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORDS = {"Queued", "Running", "Ready", "Failed", "Cancelled", "Expired", "Active", "Paused"}
WIDTHS = ({"width": 390, "height": 844}, {"width": 1366, "height": 900})


def make_rows(user):
    from django.core.files.base import ContentFile

    from config.core.models import Job
    from media_app.models import Image
    from reports.models import Export

    images = []
    for state in Image.State.values:
        image = Image(owner=user, title=f"{state.lower()} one", original_format="PNG", state=state)
        image.original.save("x.png", ContentFile(b"x"), save=False)
        image.save()
        images.append(image)
    for n, state in enumerate(Export.State.values):
        job = Job.objects.create(
            task_id=f"0f0e0d0c-0000-4000-8000-{n:012d}",
            kind="reports.export",
            task_name="reports.build_export",
            owner=user,
            state={"EXPIRED": "SUCCESS"}.get(state, state),
        )
        Export.objects.create(owner=user, kind="job_history", state=state, job=job)
    return images


def pill_words(page) -> list[str]:
    return page.locator(".state").all_inner_texts()


@pytest.mark.parametrize("viewport", WIDTHS, ids=["390", "1366"])
def test_every_page_says_the_same_five_words(browser, live_server, user, viewport, shots):
    images = make_rows(user)
    context = browser.new_context(base_url=live_server.url, viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        log_in(page, user)
        page.goto("/media/")
        gallery = pill_words(page)
        assert set(gallery) == {"Queued", "Running", "Ready", "Failed", "Cancelled"}, gallery
        shots(page, "gallery-words")
        for image in images:
            page.goto(f"/media/{image.pk}/")
            [word] = page.locator("#image-state").all_inner_texts()
            assert word in WORDS, (image.state, word)
        page.goto("/reports/")
        exports = page.locator(".export [data-role=state]").all_inner_texts()
        assert set(exports) == {"Queued", "Running", "Ready", "Failed", "Expired", "Cancelled"}, exports
        shots(page, "reports-words")
        # The export form's state filters use the words too (the values sent stay the codes).
        page.click("summary:has-text('Columns and filters')")
        options = page.locator("fieldset[data-kind=media_inventory] .option").all_inner_texts()
        assert {"Queued", "Running", "Ready", "Failed"} <= {o.strip() for o in options}, options
        assert not {"READY", "SUCCESS", "PENDING", "FAILURE"} & {o.strip() for o in options}
        # The export page's JSON carries the same word the page shows.
        first = page.locator(".export").first
        body = page.evaluate(
            """async (url) => (await fetch(url, {headers: {Accept: "application/json"}})).json()""",
            first.get_attribute("data-export-url"),
        )
        assert body["state_label"] == first.locator("[data-role=state]").inner_text()
    finally:
        context.close()


def test_live_updates_use_the_words(page, celery_worker, user, testdata):
    photos = testdata / "images" / "photos"
    log_in(page, user)
    page.goto("/media/upload/")
    page.set_input_files(
        "input[name=image]", [str(photos / "Landscape_5.jpg"), str(photos / "Portrait_5.jpg")]
    )
    page.click("main button[type=submit]")
    page.wait_for_url("**/media/?batch=*")
    wait_for_js(page, "document.querySelectorAll('#gallery .state-SUCCESS').length === 2", timeout=60_000)
    assert pill_words(page) == ["Ready", "Ready"]
    page.goto("/reports/")
    page.select_option("select[name=kind]", "job_history")
    page.click("button:has-text('Prepare export')")
    page.wait_for_selector(".export a.button:has-text('Download')")
    assert page.locator(".export [data-role=state]").first.inner_text() == "Ready"
