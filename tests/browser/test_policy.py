"""Content-Security-Policy in Chromium: the detector every browser test runs under catches a
planted violation, and the admin and our own pages raise none."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_for_reports(page, watch, *directives: str, timeout: float = 10.0) -> str:
    """Wait until the page's securitypolicyviolation reports name every directive (its console
    lines arrive first and name the directive's fallback instead); return every report so far."""

    def reported() -> str:
        return "\n".join(watch.violations)

    deadline = time.monotonic() + timeout
    while not all(f"CSP enforce: {d} " in reported() for d in directives):
        if time.monotonic() > deadline:
            break
        page.wait_for_timeout(100)  # lets Playwright deliver the page's reports
    return reported()


def test_the_detector_catches_an_inline_script_and_style_served_under_the_policy(
    page, policy_watch, settings
):
    settings.ROOT_URLCONF = "tests.browser.planted"
    response = page.goto("/planted-violation/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    found = wait_for_reports(page, policy_watch, "script-src-elem", "style-src-attr")
    assert "CSP enforce: script-src-elem blocked inline" in found, found
    assert "CSP enforce: style-src-attr blocked inline" in found, found
    # The policy did its job: the script never ran, the style never applied.
    assert page.title() == "planted"
    assert page.eval_on_selector("#styled", "e => getComputedStyle(e).color") != "rgb(255, 0, 0)"
    # And the detector fails the test that caused them (the hook calls assert_clean after each test).
    with pytest.raises(pytest.fail.Exception, match="policy violations"):
        policy_watch.assert_clean()
    assert policy_watch.violations == []


def test_the_detector_catches_inline_code_a_script_adds_to_one_of_our_pages(page, policy_watch):
    page.goto("/accounts/login/")
    page.evaluate(
        """() => {
        document.querySelector("main").setAttribute("style", "outline: 3px solid red");
        const s = document.createElement("script");
        s.textContent = "window.__injected = true";
        document.body.append(s);
    }"""
    )
    found = wait_for_reports(page, policy_watch, "script-src-elem", "style-src-attr")
    assert "CSP enforce: style-src-attr blocked inline" in found, found
    assert "CSP enforce: script-src-elem blocked inline" in found, found
    assert "console error: Executing inline script violates" in found, found
    policy_watch.clear()
    assert page.evaluate("window.__injected === undefined")


def admin_urls(user) -> list[str]:
    """Every list, add form and first change form of every model in the admin ``user`` may see."""
    from django.contrib import admin
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    urls = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        if model_admin.has_add_permission(request):
            urls.append(reverse("admin:{}_{}_add".format(*info)))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[first.pk]))
    return urls


def test_admin_and_site_pages_raise_no_violation(page, make_user, shots):
    from django.contrib.auth import get_user_model
    from django_celery_beat.models import CrontabSchedule

    from notifications.services import notify

    admin_user = get_user_model().objects.create_superuser(
        username="root", email="root@example.com", password="pw-123456!"
    )
    # Other transactional tests flush the migration's seeded schedules: the form needs one crontab.
    CrontabSchedule.objects.get_or_create(minute="30", hour="3")
    notify(user=admin_user, kind="general", title="Hello", body="A notification", email=False)
    page.goto("/admin/login/")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", "pw-123456!")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    visited = []
    for url in [
        *admin_urls(admin_user),
        "/ops/dashboard/",
        "/notifications/",
        "/notifications/preferences/",
        "/reports/",
        "/media/",
        "/media/upload/",
        "/",
    ]:
        response = page.goto(url)
        assert response.status < 400, (url, response.status)
        assert "content-security-policy" in response.headers, url
        page.wait_for_load_state("load")
        visited.append(url)
    # The periodic task form's crontab help still works from its static file.
    page.goto(reverse("admin:django_celery_beat_periodictask_add"))
    options = page.eval_on_selector_all("#id_crontab option", "os => os.map(o => o.value)")
    page.select_option("#id_crontab", next(v for v in options if v))
    page.wait_for_selector(".field-crontab .help:has-text('Translation:')")
    shots(page, "periodic-task-form")
    assert len(visited) > 20, visited
