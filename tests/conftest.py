"""Fixtures shared by the whole suite: real Redis (from `make test`), a real worker, a real SMTP
server, and users. Flow tests use ``pytest.mark.django_db(transaction=True)`` so the worker, which
has its own connection, sees what the test wrote."""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from tests.harness import SMTPRecorder, WorkerProcess, wait_for_job
from tests.testdata import TESTDATA

pytest_plugins = ["tests.browser.fixtures"]


def pytest_configure(config):
    if not os.environ.get("CELERY_BROKER_URL"):
        raise pytest.UsageError(
            "Run the suite with `make test` (or `python -m tests`): it provides a real Redis. "
            "Or set CELERY_BROKER_URL."
        )


def _uses_browser(item) -> bool:
    return "browser" in item.keywords or "browser" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config, items):
    """Browser tests run last; without Chromium they are skipped, by name, with how to get it.

    Last, because Playwright's sync API leaves its event loop registered as this thread's running
    loop for as long as the session-wide browser is open: a later test that drives an async view
    through Django's test client (async_to_sync) would fail with "cannot use AsyncToSync in the same
    thread as an async event loop". The sort is stable, so the order within each group is kept.
    """
    from tests.browser.fixtures import HAVE_CHROMIUM, INSTALL_HINT

    items.sort(key=_uses_browser)
    if HAVE_CHROMIUM:
        return
    skipped = [item for item in items if "browser" in item.keywords]
    for item in skipped:
        item.add_marker(pytest.mark.skip(reason=INSTALL_HINT))
    if skipped:
        print(f"\n{INSTALL_HINT}\nSkipping browser tests: " + ", ".join(i.nodeid for i in skipped))


@pytest.fixture(scope="session")
def testdata() -> Path:
    assert TESTDATA.is_dir(), f"test data not found at {TESTDATA} (set BACKROOM_TESTDATA)"
    return TESTDATA


@pytest.fixture(scope="session")
def smtp_server():
    from aiosmtpd.controller import Controller

    from config.core.devredis import free_port

    recorder = SMTPRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    yield recorder
    controller.stop()


@pytest.fixture
def smtp(smtp_server):
    smtp_server.reset()
    yield smtp_server
    smtp_server.reset()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, smtp_server):
    """One real worker subprocess consuming every queue, for the whole session."""
    with django_db_blocker.unblock():
        worker = WorkerProcess(concurrency=2).start()
    yield worker
    worker.stop()


@pytest.fixture(scope="session", autouse=True)
def _media_root():
    yield
    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)
    shutil.rmtree(Path(settings.REPORTS_TEMP_DIR).parent, ignore_errors=True)


@pytest.fixture
def wait_job():
    return wait_for_job


_seq = itertools.count(1)


@pytest.fixture
def make_user(django_user_model):
    def make(username: str | None = None, *, verified: bool = True, **extra):
        """A user whose address is confirmed (as after following the welcome link) unless
        ``verified=False``; an empty ``email`` gives no address at all."""
        from config.accounts.models import EmailAddress

        username = username or f"user{next(_seq)}"
        extra.setdefault("email", f"{username}@example.com")
        user = django_user_model.objects.create_user(username=username, password="pw-123456!", **extra)
        if user.email:
            EmailAddress.objects.create(
                user=user, email=user.email, verified_at=timezone.now() if verified else None
            )
        return user

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def other_user(make_user):
    return make_user("mallory")


@pytest.fixture
def owner_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def other_client(django_user_model, other_user):
    from django.test import Client

    c = Client()
    c.force_login(other_user)
    return c
