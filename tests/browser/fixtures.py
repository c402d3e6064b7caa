"""Chromium (Debian's package) driven by Playwright against pytest-django's live_server.

Browsers can't be downloaded here, so Playwright launches /usr/bin/chromium. Where it is missing
the browser tests are skipped by name, with the command that installs it.

Every context made from the `browser` fixture (and so `page`, `phone_page` and the contexts tests
make themselves) reports each Content-Security-Policy violation Chromium raises, and each
Permissions-Policy header error it logs; a test that caused any fails, listing them.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
INSTALL_HINT = (
    "Chromium is not installed: `sudo apt-get install -y chromium` (Debian) enables the browser tests."
)
# Playwright's sync API runs an event loop in this thread; Django must still allow ORM calls here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Runs in every document before its own scripts (Playwright's init scripts and bindings are not
# subject to the page's policy). Capture phase on document: violations of every element bubble here.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__backroomCSPViolation({
    directive: e.effectiveDirective, blocked: e.blockedURI, disposition: e.disposition,
    source: e.sourceFile, line: e.lineNumber, sample: e.sample, document: e.documentURI,
  });
}, true);
"""
# Chromium's console lines for a refused resource and for a bad Permissions-Policy header.
CONSOLE_MARKERS = ("Content Security Policy", "Permissions-Policy", "Permissions policy")


class PolicyWatch:
    """The policy violations Chromium reported in the contexts it watches, since the last clear()."""

    def __init__(self) -> None:
        self.violations: list[str] = []

    def watch(self, context):
        context.expose_binding("__backroomCSPViolation", self._on_violation)
        context.add_init_script(REPORT_VIOLATIONS)
        context.on("page", lambda page: page.on("console", self._on_console))
        return context

    def _on_violation(self, source, v: dict) -> None:
        self.violations.append(
            f"CSP {v['disposition']}: {v['directive']} blocked {v['blocked'] or '?'} "
            f"in {v['document']} ({v['source'] or 'page'}:{v['line']}) {v['sample'] or ''}".rstrip()
        )

    def _on_console(self, message) -> None:
        if message.type in ("error", "warning") and any(m in message.text for m in CONSOLE_MARKERS):
            self.violations.append(f"console {message.type}: {message.text}")

    def clear(self) -> list[str]:
        found, self.violations = self.violations, []
        return found

    def assert_clean(self) -> None:
        found = self.clear()
        if found:
            pytest.fail(
                "Chromium reported policy violations:\n" + "\n".join(f"  {v}" for v in found),
                pytrace=False,
            )


POLICY_WATCH = PolicyWatch()


def wait_for_js(page, expression: str, *, timeout: float, interval: float = 100) -> None:
    """Wait until a JavaScript expression is truthy in the page (``timeout`` in ms).

    Instead of page.wait_for_function, which evaluates its predicate with eval() inside the page:
    our policy refuses eval ('unsafe-eval'), so it fails there. page.evaluate goes through the
    DevTools protocol, which the page's policy does not govern. A navigation in progress (the
    context destroyed mid-evaluation) counts as not yet.
    """
    from playwright.sync_api import Error as PlaywrightError

    deadline = time.monotonic() + timeout / 1000
    while True:
        try:
            if page.evaluate(expression):
                return
        except PlaywrightError as exc:
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout / 1000:g} s: {expression}")
        page.wait_for_timeout(interval)


class WatchedBrowser:
    """A Playwright Browser whose every new context reports policy violations to POLICY_WATCH."""

    def __init__(self, browser) -> None:
        self._browser = browser

    def new_context(self, **kwargs):
        return POLICY_WATCH.watch(self._browser.new_context(**kwargs))

    def new_page(self, **kwargs):
        context = self.new_context(**kwargs)
        page = context.new_page()
        page.on("close", lambda _: context.close())
        return page

    def __getattr__(self, name):
        return getattr(self._browser, name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    POLICY_WATCH.clear()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test that made Chromium report a violation fails (not a teardown error: the test did it)."""
    result = yield
    POLICY_WATCH.assert_clean()
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    # Violations raised while fixtures close their pages (after the test body) still count.
    result = yield
    POLICY_WATCH.assert_clean()
    return result


@pytest.fixture
def policy_watch():
    """The violation detector itself, for the test that proves it catches a planted violation."""
    return POLICY_WATCH


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield WatchedBrowser(b)
        b.close()


@pytest.fixture
def shots(tmp_path):
    """Save a numbered screenshot per step under the test's tmp dir."""
    counter = {"n": 0}

    def shot(page, name: str) -> Path:
        counter["n"] += 1
        path = tmp_path / f"{counter['n']:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shot


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1200, "height": 900})
    p = context.new_page()
    p.set_default_timeout(20_000)
    yield p
    context.close()


@pytest.fixture
def phone_page(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    p = context.new_page()
    p.set_default_timeout(20_000)
    yield p
    context.close()


def log_in(page, user) -> None:
    """Sign in through the login form as ``user`` (the test users' password) and land on the gallery."""
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw-123456!")
    page.click("main button[type=submit]")
    page.wait_for_url("**/media/**")


def axe_problems(page) -> list[dict]:
    """axe-core's serious or critical findings on the page as it is now (skipped without axe)."""
    from tests.browser.test_pages import AXE, AXE_HINT, run_axe, serious

    if not AXE.exists():
        pytest.skip(AXE_HINT)
    return serious(run_axe(page, AXE.read_text()))
