"""Fixtures of the reliability suite: each fault test owns its Redis and its workers, so stopping
Redis or killing a worker never disturbs the session worker or another test."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from tests.reliability.faults import FIGURES_FILE, PrivateBroker, Scenario, fault_worker


@pytest.fixture
def broker(request):
    b = PrivateBroker(request.node.name[:40].replace("[", "-").replace("]", "")).start()
    yield b
    b.cleanup()


@pytest.fixture
def workers(broker):
    """Start fault workers on the private broker; every one still running is stopped afterwards."""
    started = []

    def start(**kwargs):
        w = fault_worker(broker, **kwargs)
        started.append(w)
        return w.start()

    yield start
    for w in started:
        if w.proc is not None and w.proc.poll() is None:
            w.kill()


@pytest.fixture
def scenario(request, broker, user, tmp_path):
    def make(name: str) -> Scenario:
        return Scenario(name=name, broker=broker, owner=user, ledger=tmp_path / "ledger.txt")

    return make


def pytest_terminal_summary(terminalreporter):
    path = settings.VAR_DIR / FIGURES_FILE
    if not path.exists():
        return
    runs = [r for r in json.loads(path.read_text()) if r.get("run") == settings.BACKROOM_TEST_RUN]
    if not runs:
        return
    terminalreporter.section("reliability figures")
    for r in runs:
        extra = {
            k: v
            for k, v in r.items()
            if k not in ("scenario", "jobs", "faults", "final", "lost", "duplicated", "run", "database")
        }
        terminalreporter.write_line(
            f"{r['scenario']}: jobs={r['jobs']} faults={r['faults']} final={r['final']} "
            f"lost={r['lost']} duplicated={r['duplicated']} {extra}"
        )
