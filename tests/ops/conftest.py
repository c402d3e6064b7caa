"""Real beat processes and a look into the broker's queues for the periodic-jobs tests."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from tests.harness import ROOT, child_env


class BeatProcess:
    """`celery -A config beat` on the leader-lease scheduler, in a session of its own."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.log_path: Path = settings.VAR_DIR / f"test-{settings.BACKROOM_TEST_RUN}-beat-{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> BeatProcess:
        self.log_path.write_bytes(b"")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "-S",
                "config.ops.beat:LeaderDatabaseScheduler",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env=child_env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, marker: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"beat {self.name} exited ({self.proc.returncode}):\n{self.log()}")
            if marker in self.log():
                return
            time.sleep(0.2)
        raise AssertionError(f"beat {self.name}: {marker!r} not logged in {timeout}s:\n{self.log()}")

    def sends(self, periodic_name: str) -> int:
        return self.log().count(f"Sending due task {periodic_name} ")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        finally:
            self._log.close()


@pytest.fixture
def start_beat():
    """Start beats by name; all are stopped (by their own pid) when the test ends."""
    from config.ops.beat import LEASE_KEY

    cache.delete(LEASE_KEY)
    started: list[BeatProcess] = []

    def start(name: str) -> BeatProcess:
        beat = BeatProcess(name).start()
        started.append(beat)
        return beat

    yield start
    for beat in started:
        beat.stop()
    cache.delete(LEASE_KEY)


class PrivateQueue:
    """A queue no worker consumes: what lands there can be read back as sent, headers and all."""

    def __init__(self) -> None:
        self.name = f"ops-probe-{uuid.uuid4().hex[:10]}"
        self.client = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    def keys(self) -> list[bytes]:
        # Redis keeps one list per priority step: "name", "name\x06\x163", …
        return [k for k in self.client.keys(f"{self.name}*") if k.split(b"\x06")[0] == self.name.encode()]

    def messages(self) -> list[dict]:
        found = []
        for key in self.keys():
            for raw in self.client.lrange(key, 0, -1):
                message = json.loads(raw)
                message["decoded_body"] = json.loads(base64.b64decode(message["body"]))
                found.append(message)
        return found

    def delete(self) -> None:
        keys = self.keys()
        if keys:
            self.client.delete(*keys)


@pytest.fixture
def private_queue():
    queue = PrivateQueue()
    yield queue
    queue.delete()
