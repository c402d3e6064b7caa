"""Login, admin login and password reset are throttled per account (or email) and per client
address, in Redis: beyond the limit a clear 429 with Retry-After, and the right password works again
once the window closes (issue 18.1)."""

import re
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
from django.test import Client

from tests.helpers import HTML, JSON

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-123456!"  # make_user's


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A plain HTTP client with cookies, against a real server, seeing redirects as they come."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect()
        )

    def request(self, path: str, data: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        url = self.base + path  # http://127.0.0.1:<port>, the test's own live server
        req = urllib.request.Request(url, data=body, headers={"Accept": "text/html"})  # noqa: S310
        try:
            response = self.opener.open(req, timeout=10)
        except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx, 5xx
            response = error
        with response:
            return response.status, dict(response.headers), response.read().decode()

    def log_in(self, path: str, username: str, password: str):
        _, _, page = self.request(path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        return self.request(path, {"csrfmiddlewaretoken": token, "username": username, "password": password})


@pytest.mark.timing  # the four tries must land inside the 5 s window (they take ~0.1 s)
def test_wrong_passwords_get_429_over_a_real_server_and_the_right_one_works_after(
    live_server, make_user, settings
):
    settings.ACCOUNTS_LOGIN_LIMIT_PER_ACCOUNT = 3
    settings.ACCOUNTS_LOGIN_LIMIT_PER_ADDRESS = 1000
    settings.ACCOUNTS_THROTTLE_PERIOD = 5
    make_user("target")
    browser = Browser(live_server.url)
    statuses = [browser.log_in("/accounts/login/", "target", f"guess-{i}")[0] for i in range(3)]
    assert statuses == [200, 200, 200]  # the form again, with its error
    status, headers, page = browser.log_in("/accounts/login/", "target", "guess-3")
    assert status == 429
    assert 1 <= int(headers["Retry-After"]) <= 5
    assert "Too many login attempts" in page and "try again in" in page
    # Locked means locked: the right password too, until the window closes.
    assert browser.log_in("/accounts/login/", "TARGET", PASSWORD)[0] == 429
    time.sleep(int(headers["Retry-After"]) + 0.5)
    status, headers, _ = browser.log_in("/accounts/login/", "target", PASSWORD)
    assert status == 302 and headers["Location"] == "/"


def test_one_address_trying_many_accounts_is_stopped_and_json_clients_get_json(make_user, settings):
    settings.ACCOUNTS_LOGIN_LIMIT_PER_ACCOUNT = 100
    settings.ACCOUNTS_LOGIN_LIMIT_PER_ADDRESS = 4
    client = Client(REMOTE_ADDR="10.9.8.7")
    for i in range(4):
        response = client.post("/accounts/login/", {"username": f"spray{i}", "password": "x"}, **HTML)
        assert response.status_code == 200
    refused = client.post("/accounts/login/", {"username": "spray9", "password": "x"}, **JSON)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert refused.json()["retry_after"] == int(refused["Retry-After"])
    assert "Too many login attempts" in refused.json()["error"]
    # Another address is not affected.
    make_user("elsewhere")
    other = Client(REMOTE_ADDR="10.9.8.8").post(
        "/accounts/login/", {"username": "elsewhere", "password": PASSWORD}
    )
    assert other.status_code == 302


def test_successful_logins_do_not_count_against_the_account(make_user, settings):
    settings.ACCOUNTS_LOGIN_LIMIT_PER_ACCOUNT = 2
    make_user("steady")
    for _ in range(4):
        client = Client(REMOTE_ADDR="10.9.7.1")
        assert (
            client.post("/accounts/login/", {"username": "steady", "password": PASSWORD}).status_code == 302
        )


def test_the_admin_login_is_throttled_too(make_user, settings):
    settings.ACCOUNTS_LOGIN_LIMIT_PER_ACCOUNT = 2
    make_user("boss", is_staff=True, is_superuser=True)
    client = Client(REMOTE_ADDR="10.9.6.1")
    for _ in range(2):
        assert client.post("/admin/login/", {"username": "boss", "password": "no"}, **HTML).status_code == 200
    refused = client.post("/admin/login/", {"username": "boss", "password": PASSWORD}, **HTML)
    assert refused.status_code == 429 and refused.has_header("Retry-After")


def test_password_resets_are_limited_per_email_and_per_address(make_user, settings):
    settings.ACCOUNTS_RESET_LIMIT_PER_EMAIL = 2
    settings.ACCOUNTS_RESET_LIMIT_PER_ADDRESS = 3
    make_user("forgetful")
    answers = [
        Client(REMOTE_ADDR=f"10.9.5.{i}").post(
            "/accounts/password_reset/", {"email": "Forgetful@example.com"}
        )
        for i in range(3)
    ]
    assert [r.status_code for r in answers] == [302, 302, 429]
    assert (
        answers[2].has_header("Retry-After")
        and "Too many password reset requests" in answers[2].content.decode()
    )
    one = Client(REMOTE_ADDR="10.9.4.1")
    codes = [
        one.post("/accounts/password_reset/", {"email": f"n{i}@example.com"}).status_code for i in range(4)
    ]
    assert codes == [302, 302, 302, 429]
