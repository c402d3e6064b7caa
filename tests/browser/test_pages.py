"""Every page, at 390 and 1366 px, in the light and the dark theme (issue 22, points 7, 8 and 10):
axe-core finds no serious or critical violation, nothing scrolls sideways, the phone menu
collapses, and a screenshot of each is kept under var/screenshots/ for a reviewer.

axe is injected with page.evaluate, which runs through the DevTools protocol: the page's
Content-Security-Policy does not govern it, so the policy stays on and these contexts stay watched
for violations like every other (no bypass_csp anywhere). The stylesheets axe builds for itself are
constructed ones, not <style> elements (CSSOM_WITHOUT_INLINE_STYLE), for the same reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

from tests.harness import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(os.environ.get("AXE_PATH") or ROOT / "var/node/node_modules/axe-core/axe.min.js")
AXE_HINT = "axe-core is not installed: `npm install --prefix var/node --no-audit --no-fund axe-core@4`"
SCREENSHOTS = settings.BASE_DIR / "var" / "screenshots"
WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 900}}
PASSWORD = "pw-123456!"


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        if os.environ.get("CI"):
            pytest.fail(AXE_HINT, pytrace=False)
        pytest.skip(AXE_HINT)
    return AXE.read_text()


# axe reads the page's stylesheets (its CSSOM preload, for css-orientation-lock). One that holds an
# @import (the admin's forms.css imports widgets.css) it rebuilds, with the imported sheet, as <style>
# elements in a document of its own made from this one: inline style, which the policy refuses
# (style-src-elem), leaving axe without those rules. Its document is swapped for the four things its
# stylesheet factory uses, making constructed stylesheets: CSSOM, which the policy does not govern.
# The same rules for axe to read, nothing refused; matched by axe's own title, so if axe renames it
# the <style> elements come back and the walk fails on them rather than passing blind.
CSSOM_WITHOUT_INLINE_STYLE = """(() => {
  const make = DOMImplementation.prototype.createHTMLDocument;
  DOMImplementation.prototype.createHTMLDocument = function (title) {
    if (title !== "Dynamic document for loading cssom") return make.apply(this, arguments);
    return {
      createTextNode: (text) => ({ text }),
      createElement: () => ({ text: "", sheet: null, appendChild(node) { this.text += node.text; } }),
      head: {
        appendChild(style) { style.sheet = new CSSStyleSheet(); style.sheet.replaceSync(style.text); },
      },
    };
  };
})()"""


def run_axe(page, source: str) -> dict:
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(CSSOM_WITHOUT_INLINE_STYLE)
        page.evaluate(source + "\n;undefined")
    return page.evaluate(
        """async () => {
          const r = await axe.run(document, {resultTypes: ["violations"]});
          return {
            ran: r.passes.length + r.violations.length + r.incomplete.length + r.inapplicable.length,
            violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))})),
          };
        }"""
    )


def serious(result: dict) -> list[dict]:
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.fixture
def site(make_user):
    """A staff person with something on every page: a failed picture, a notification, a job."""
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    from config.core.models import Job
    from media_app.models import Image
    from notifications.services import notify

    root = get_user_model().objects.create_superuser(
        username="root", email="root@example.com", password=PASSWORD
    )
    from django.utils import timezone

    from config.accounts.models import EmailAddress

    EmailAddress.objects.create(user=root, email=root.email, verified_at=timezone.now())
    image = Image(owner=root, title="Broken scan", original_format="PNG", state=Image.State.FAILED)
    image.error = "This file is not an image we can read."
    image.original.save("broken.png", ContentFile(b"not a png"), save=False)
    image.save()
    notify(
        user=root, kind="general", title="Your picture is ready", body="Your picture is ready.", email=False
    )
    job = Job.objects.create(
        task_id="0f0e0d0c-0000-4000-8000-000000000001",
        kind="media.compress",
        task_name="media_app.compress_image",
        owner=root,
        state=Job.State.FAILURE,
        error="This file is not an image we can read.",
    )
    cron, _ = CrontabSchedule.objects.get_or_create(minute="30", hour="3", timezone="Europe/Berlin")
    periodic, _ = PeriodicTask.objects.get_or_create(
        name="pages-probe", defaults={"task": "ops.cleanup", "crontab": cron}
    )
    return {
        "login": "/accounts/login/",
        "signup": "/accounts/signup/",
        "password-reset": "/accounts/password_reset/",
        "gallery": "/media/",
        "upload": "/media/upload/",
        "detail": f"/media/{image.pk}/",
        "reports": "/reports/",
        "notifications": "/notifications/",
        "settings": "/notifications/preferences/",
        "not-found": "/media/999999/",
        "dashboard": "/ops/dashboard/",
        "admin": "/admin/",
        "admin-jobs": "/admin/core/job/",
        "admin-job": f"/admin/core/job/{job.pk}/change/",
        "admin-schedule": f"/admin/django_celery_beat/periodictask/{periodic.pk}/change/",
    }


ANONYMOUS = ("login", "signup", "password-reset")


def log_in(page) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/media/**")


def test_every_page_in_both_themes_at_both_widths_passes_axe(
    browser, live_server, site, axe_source, policy_watch
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    checked = 0
    for width_name, viewport in WIDTHS.items():
        for scheme in ("light", "dark"):
            context = browser.new_context(
                base_url=live_server.url,
                viewport=viewport,
                color_scheme=scheme,
                is_mobile=width_name == "phone",
                has_touch=width_name == "phone",
            )
            page = context.new_page()
            page.set_default_timeout(20_000)
            try:
                for phase in ("anonymous", "signed-in"):
                    if phase == "signed-in":
                        log_in(page)
                    for name, url in site.items():
                        if (name in ANONYMOUS) != (phase == "anonymous"):
                            continue
                        response = page.goto(url)
                        expected = 404 if name == "not-found" else 200
                        assert response.status == expected, (url, response.status)
                        page.emulate_media(color_scheme=scheme)
                        page.wait_for_load_state("load")
                        result = run_axe(page, axe_source)
                        assert result["ran"] > 40, f"axe ran only {result['ran']} rules on {url}"
                        for v in serious(result):
                            problems.append(
                                f"{width_name}/{scheme} {url}: {v['id']} ({v['impact']}) "
                                f"{v['help']} {v['nodes']}"
                            )
                        wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                        if wide > 1 and not (width_name == "phone" and name.startswith("admin")):
                            problems.append(f"{width_name}/{scheme} {url}: scrolls sideways by {wide}px")
                        page.screenshot(
                            path=str(SCREENSHOTS / f"{name}-{viewport['width']}-{scheme}.png"), full_page=True
                        )
                        checked += 1
                        # Say which page broke the policy (the test fails on it either way).
                        problems.extend(f"{width_name}/{scheme} {url}: {v}" for v in policy_watch.clear())
            finally:
                context.close()
    assert not problems, "\n".join(problems)
    assert checked == 4 * len(site)


def test_axe_catches_a_planted_violation(page, site, axe_source):
    page.goto("/accounts/login/")
    assert not serious(run_axe(page, axe_source))
    # A picture without a text alternative, and a button with no name: both serious or worse.
    page.evaluate(
        """() => { const i = document.createElement("img"); i.width = 20; i.height = 20;
                   document.querySelector("main").append(i, document.createElement("button")); }"""
    )
    found = {v["id"] for v in serious(run_axe(page, axe_source))}
    assert {"image-alt", "button-name"} <= found, found


def test_the_phone_menu_collapses_and_names_the_current_page(phone_page, site):
    log_in(phone_page)
    phone_page.goto("/reports/")
    toggle = phone_page.locator(".nav-toggle")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert phone_page.locator("#main-nav").is_hidden()
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    current = phone_page.locator("#main-nav a[aria-current=page]")
    assert current.is_visible() and current.inner_text() == "Reports"
    # The skip link comes first in the page and leads to the content.
    first = phone_page.evaluate("document.querySelector('body a, body button').className")
    assert first == "skip-link"
    assert phone_page.get_attribute(".skip-link", "href") == "#main"
