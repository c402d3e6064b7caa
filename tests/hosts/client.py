"""A browser-less HTTP client for the web host: a session cookie, CSRF, JSON, bounded waits.

It speaks to the production settings as a TLS-terminating proxy would (X-Forwarded-Proto: https),
so secure cookies, HSTS and the SSL redirect stay exactly as deployed.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from urllib.parse import urlencode

from tests.loadgen import UPLOAD_SEQ, distinct, multipart


class WebClient:
    def __init__(self, host: str, port: int = 8000, *, timeout: float = 30) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.origin = f"https://{host}:{port}"
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None, timeout=None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
        try:
            sent = {
                "Host": f"{self.host}:{self.port}",
                "X-Forwarded-Proto": "https",
                "Accept": "application/json",
                **(headers or {}),
            }
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            if method == "POST":
                sent.update(
                    {
                        "Origin": self.origin,
                        "Referer": self.origin + path,
                        "X-CSRFToken": self.cookies.get("csrftoken", ""),
                    }
                )
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key.strip()] = rest.split(";", 1)[0]
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()

    def get_json(self, path: str) -> tuple[int, dict]:
        status, _, data = self.request("GET", path)
        try:
            return status, json.loads(data or b"{}")
        except ValueError:
            return status, {"raw": data[:200].decode(errors="replace")}

    def login(self, username: str, password: str) -> None:
        status, _, page = self.request("GET", "/accounts/login/", headers={"Accept": "text/html"})
        assert status == 200, f"login page answered {status}"
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
        form = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token}).encode()
        status, _, _ = self.request(
            "POST",
            "/accounts/login/",
            body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"},
        )
        assert status == 302 and "sessionid" in self.cookies, f"login answered {status}"

    def upload(self, filename: str, content: bytes, *, timeout: float | None = None) -> tuple[int, dict]:
        # Every upload is fresh work: the same bytes again by the same owner would reuse the
        # first upload's renditions, with no worker involved.
        body, content_type = multipart("image", filename, distinct(content, f"host {next(UPLOAD_SEQ)}"))
        status, _, data = self.request(
            "POST", "/media/upload/", body=body, headers={"Content-Type": content_type}, timeout=timeout
        )
        try:
            return status, json.loads(data or b"{}")
        except ValueError:
            return status, {"raw": data[:200].decode(errors="replace")}

    def post_form(self, path: str, fields: dict) -> tuple[int, dict]:
        status, _, data = self.request(
            "POST",
            path,
            body=urlencode(fields).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return status, json.loads(data or b"{}")

    def wait_task(self, status_url: str, timeout: float = 120) -> dict:
        """Poll a job's status until it is final; bounded in time."""
        deadline = time.monotonic() + timeout
        body: dict = {}
        while time.monotonic() < deadline:
            code, body = self.get_json(status_url)
            if code == 200 and body.get("state") in ("SUCCESS", "FAILURE"):
                return body
            time.sleep(0.25)
        raise AssertionError(f"{status_url} not final after {timeout}s: {body}")
