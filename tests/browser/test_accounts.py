"""Sign-up and login as a person does them, in Chromium."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_log_out_and_log_in(page, shots):
    page.goto("/")
    assert "/accounts/login/" in page.url
    page.click("text=Create an account")
    page.fill("input[name=username]", "carol")
    page.fill("input[name=email]", "carol@example.com")
    page.fill("input[name=password1]", "a-long-passphrase-42")
    page.fill("input[name=password2]", "a-long-passphrase-42")
    shots(page, "signup-form")
    page.click("button:has-text('Sign up')")
    page.wait_for_selector("text=Welcome, carol")
    shots(page, "signed-up")
    page.click("button:has-text('Log out')")
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "carol")
    page.fill("input[name=password]", "wrong")
    page.click("button:has-text('Log in')")
    page.wait_for_selector(".errorlist")
    shots(page, "login-error")
    page.fill("input[name=password]", "a-long-passphrase-42")
    page.click("button:has-text('Log in')")
    page.wait_for_selector("text=carol")
    shots(page, "logged-in")
