"""`make run` on a shared machine: the web server listens on loopback unless HOST says otherwise,
and the demo superuser's password is this install's own, kept under var/ for its owner only."""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
import sys
import time

import psutil
import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from config.core.devredis import free_port
from tests.harness import ROOT, child_env

pytestmark = pytest.mark.django_db


def ensure_demo_user() -> str:
    out = io.StringIO()
    call_command("ensure_demo_user", stdout=out)
    return out.getvalue()


def test_the_demo_password_is_random_per_install_printed_once_and_kept_for_its_owner(
    settings, tmp_path, django_user_model
):
    settings.VAR_DIR = tmp_path / "install-a"
    first = ensure_demo_user()
    kept = settings.VAR_DIR / "demo-password"
    password = kept.read_text().strip()
    assert f"'{password}'" in first and str(kept) in first
    assert len(password) >= 16 and password != "demo-pass-123"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert authenticate(username="demo", password=password) is not None
    assert authenticate(username="demo", password="demo-pass-123") is None

    # Later starts say where it is, without printing it again or changing it.
    again = ensure_demo_user()
    assert password not in again and str(kept) in again
    assert kept.read_text().strip() == password
    assert authenticate(username="demo", password=password) is not None

    # Another install (its own var dir) gets a password of its own.
    django_user_model.objects.all().delete()
    settings.VAR_DIR = tmp_path / "install-b"
    ensure_demo_user()
    other = (settings.VAR_DIR / "demo-password").read_text().strip()
    assert other != password
    assert authenticate(username="demo", password=other) is not None


def listening_addresses(root: psutil.Process, port: int) -> set[str]:
    found = set()
    for proc in [root, *root.children(recursive=True)]:
        try:
            for conn in proc.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port:
                    found.add(conn.laddr.ip)
        except psutil.NoSuchProcess:
            continue
    return found


def run_web(tmp_path, **env: str) -> set[str]:
    """`manage.py runstack web` (the Procfile's web command under honcho, as `make run` starts it);
    returns the addresses its web server listens on, then stops it."""
    port = free_port()
    log = open(tmp_path / f"runstack-{port}.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "web"],
        cwd=ROOT,
        env=child_env(PORT=str(port), WEB_CONCURRENCY="1", **env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        root = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        addresses: set[str] = set()
        while not addresses and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            addresses = listening_addresses(root, port)
        assert addresses, (tmp_path / f"runstack-{port}.log").read_text()
        return addresses
    finally:
        # Ctrl-C, as in a terminal: the whole group gets SIGINT; runstack lets honcho stop web.
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_make_run_listens_on_loopback_unless_host_says_otherwise(tmp_path):
    env = {k: v for k, v in os.environ.items() if k == "HOST"}
    assert not env, "HOST is set in this environment; the default cannot be tested"
    assert run_web(tmp_path) == {"127.0.0.1"}
    # Another address when HOST names one (still loopback: tests stay off the network).
    assert run_web(tmp_path, HOST="127.0.0.2") == {"127.0.0.2"}


def test_only_loopback_addresses_go_without_a_debug_warning():
    from config.core.management.commands.runstack import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("127.0.0.2") and is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")  # noqa: S104
    assert not is_loopback("192.0.2.1") and not is_loopback("example.org")


def test_runstack_with_no_names_starts_everything_and_refuses_unknown_ones():
    """`make run` calls a bare `manage.py runstack`: the parser must take no names at all."""
    from django.core.management.base import CommandError

    from config.core.management.commands.runstack import Command

    options = Command().create_parser("manage.py", "runstack").parse_args([])
    assert options.processes == []
    with pytest.raises(CommandError, match="no such process"):
        Command().handle(processes=["webb"])
