"""`make run` as a newcomer meets it (issue 22, points 1 and 2): the email's link points at the port
the site runs on, and with DEBUG off by default the pages are the branded ones, JSON clients get
JSON errors, and WhiteNoise still serves the collected static files."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid

import pytest
import requests

from config.core.devredis import free_port
from tests.harness import ROOT, child_env

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stack(tmp_path, smtp):
    """`manage.py runstack web worker_fast` under the local settings `make run` uses, with its own
    private Redis (no other worker can take its emails) and no SITE_URL or DJANGO_DEBUG set."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=child_env(DJANGO_SETTINGS_MODULE="config.settings.local"),
        check=True,
        timeout=120,
    )
    port = free_port()
    env = child_env(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        FAST_CONCURRENCY="1",
        BACKROOM_VAR_DIR=str(tmp_path / "var"),
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    )
    for name in (
        "SITE_URL",
        "DJANGO_DEBUG",
        "CELERY_BROKER_URL",
        "REDIS_URL",
        "HOST",
        "DJANGO_ALLOWED_HOSTS",
    ):
        env.pop(name, None)
    log_path = tmp_path / "runstack.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "web", "worker_fast"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                requests.get(base + "/accounts/login/", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.3)
        else:
            pytest.fail("runstack did not answer:\n" + log_path.read_text())
        yield base, log_path
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


HTML = {"Accept": "text/html"}


def test_make_run_links_answer_on_its_port_and_errors_are_the_branded_ones(stack, smtp):
    base, _log = stack

    # DEBUG is off by default: the branded 404, never Django's debug page listing the URL patterns.
    page = requests.get(base + "/no-such-page/", headers=HTML, timeout=10)
    assert page.status_code == 404
    assert "URLconf" not in page.text and "DEBUG = True" not in page.text
    assert "We could not find that page." in page.text
    # A JSON client of /tasks/<id>/ gets JSON.
    job = requests.get(f"{base}/tasks/{uuid.uuid4()}/", headers={"Accept": "application/json"}, timeout=10)
    assert job.status_code == 404 and job.headers["Content-Type"].startswith("application/json")
    assert job.json()["error"]
    # The stylesheet the pages link to is served (WhiteNoise, collected files) with DEBUG off.
    css = re.search(r'href="(/static/core/app[^"]*\.css)"', page.text)
    assert css, page.text
    served = requests.get(base + css.group(1), timeout=10)
    assert served.status_code == 200 and "text/css" in served.headers["Content-Type"]

    # Sign up: the welcome email's link points at this port, and it answers there.
    session = requests.Session()
    form = session.get(base + "/accounts/signup/", headers=HTML, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    password = "a-long-passphrase-42"
    done = session.post(
        base + "/accounts/signup/",
        data={
            "csrfmiddlewaretoken": token,
            "username": "newcomer",
            "email": "newcomer@example.com",
            "password1": password,
            "password2": password,
        },
        headers={**HTML, "Referer": base + "/accounts/signup/"},
        timeout=10,
    )
    assert done.status_code == 200 and "Welcome, newcomer" in done.text, done.text
    [welcome] = smtp.wait_for(1, timeout=60)
    text = welcome["message"].get_body(("plain",)).get_content()
    links = re.findall(r"https?://[^\s\"<>]+", text)
    assert links, text
    for link in links:
        assert link == base or link.startswith(base + "/"), (link, base)
    verify = [link for link in links if "/accounts/verify/" in link]
    assert verify, links
    assert requests.get(verify[0], headers=HTML, timeout=10).status_code == 200
