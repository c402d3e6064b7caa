"""The time zone at sign-up comes from the browser (issue 16.5), in Chromium set to Tokyo."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_takes_the_browsers_time_zone_and_settings_show_it(browser, live_server, shots, smtp_server):
    from django.contrib.auth import get_user_model

    from config.accounts.selectors import time_zone_for

    context = browser.new_context(base_url=live_server.url, timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto("/accounts/signup/")
        assert page.input_value("select[name=time_zone]") == "Asia/Tokyo"
        page.fill("input[name=username]", "kenji")
        page.fill("input[name=email]", "kenji@example.com")
        page.fill("input[name=password1]", "a-long-passphrase-42")
        page.fill("input[name=password2]", "a-long-passphrase-42")
        shots(page, "signup-time-zone")
        page.click("button:has-text('Sign up')")
        page.wait_for_selector("text=Welcome, kenji")
        assert time_zone_for(user=get_user_model().objects.get(username="kenji")) == "Asia/Tokyo"
        page.goto("/notifications/preferences/")
        assert page.input_value("select[name=time_zone]") == "Asia/Tokyo"
        page.select_option("select[name=time_zone]", "Europe/Berlin")
        page.click("button:has-text('Save time zone')")
        page.wait_for_selector("text=Your time zone is now Europe/Berlin.")
        shots(page, "settings-time-zone")
    finally:
        context.close()
