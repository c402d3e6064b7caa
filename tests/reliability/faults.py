"""Fault injection for the reliability suite: a private Redis per test, workers of its own, a ledger
of side effects, and the tally every scenario ends with (submitted, final, lost, duplicated)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import redis
from django.conf import settings
from django.db import transaction

from config.core import devredis, services
from config.core.models import Job
from tests.harness import ALL_QUEUES, WorkerProcess, publishing_to

# What the fault workers run with (read by config/settings/test.py): a message held by a worker
# that died is back in its queue after VISIBILITY_TIMEOUT plus one restore sweep.
VISIBILITY_TIMEOUT = 10
RESTORE_INTERVAL = 1
FIGURES_FILE = "reliability-figures.json"


class PrivateBroker:
    """A redis-server of the test's own (append-only on), which the test may stop, restart and cut."""

    def __init__(self, name: str) -> None:
        self.port = devredis.free_port()
        self.data_dir = settings.VAR_DIR / f"rel-{settings.BACKROOM_TEST_RUN}-{name}-{self.port}"
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self) -> PrivateBroker:
        self.proc, url = devredis.start_private_redis(data_dir=self.data_dir, port=self.port)
        assert url == self.url
        return self

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): Redis writes its append-only file and exits."""
        if self.proc is not None:
            devredis.stop(self.proc)
            self.proc = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def queue_length(self, queue: str = "default") -> int:
        return self.client().llen(queue)

    def unacked(self) -> int:
        return self.client().hlen("unacked")

    def cleanup(self) -> None:
        self.stop()
        import shutil

        shutil.rmtree(self.data_dir, ignore_errors=True)


def fault_worker(
    broker: PrivateBroker, *, queues: str = ALL_QUEUES, concurrency: int = 1, **env: str
) -> WorkerProcess:
    """A worker on the private broker with a short visibility timeout and a fast restore sweep."""
    return WorkerProcess(
        queues=queues,
        concurrency=concurrency,
        env={
            "CELERY_BROKER_URL": broker.url,
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
            "CELERY_UNACKED_RESTORE_INTERVAL": str(RESTORE_INTERVAL),
            **env,
        },
    )


def kill(pid: int, sig: int = signal.SIGKILL) -> None:
    os.kill(pid, sig)


@dataclass
class Scenario:
    """Counts what a scenario submitted, injected and got back; asserts none lost, none twice."""

    name: str
    broker: PrivateBroker
    owner: object
    ledger: Path
    task_ids: list[str] = field(default_factory=list)
    faults: int = 0
    started_at: float = field(default_factory=time.monotonic)
    figures: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)

    def submit(self, task_name: str = "tests.ledger", **kwargs) -> Job:
        """Write a job and publish it to the private broker, as a view's service would."""
        if task_name == "tests.ledger":
            kwargs.setdefault("path", str(self.ledger))
        with publishing_to(self.broker.url), transaction.atomic():
            job = services.job_create(
                owner=self.owner, kind="reliability", task_name=task_name, kwargs=kwargs
            )
        self.task_ids.append(job.task_id)
        return job

    def fault(self, n: int = 1) -> None:
        self.faults += n

    def note(self, **figures) -> None:
        """Add measured figures (recorded again if the scenario has settled already)."""
        self.notes.update(figures)
        if self.figures:
            self.figures.update(figures)
            record_figures(self.figures)

    # --- the ledger written by tests.ledger ---------------------------------------------------

    def lines(self) -> list[tuple[str, str, int]]:
        if not self.ledger.exists():
            return []
        out = []
        for line in self.ledger.read_text().splitlines():
            kind, task_id, pid = line.split()
            out.append((kind, task_id, int(pid)))
        return out

    def starts(self, task_id: str) -> list[int]:
        return [pid for kind, tid, pid in self.lines() if kind == "start" and tid == task_id]

    def done(self) -> Counter:
        return Counter(tid for kind, tid, _ in self.lines() if kind == "done")

    def wait_started(self, task_id: str, timeout: float = 30) -> int:
        """The pid of the process that began executing ``task_id``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.starts(task_id)
            if pids:
                return pids[-1]
            time.sleep(0.05)
        raise AssertionError(f"{task_id} did not start within {timeout}s")

    # --- the end of every scenario ------------------------------------------------------------

    def settle(self, timeout: float = 90, ledger_ids: list[str] | None = None) -> dict[str, Job]:
        """Wait until every submitted job is final; then assert nothing lost, nothing done twice.

        ``ledger_ids``: the jobs whose side effect is in the ledger (default: every tests.ledger job).
        """
        deadline = time.monotonic() + timeout
        while True:
            jobs = {j.task_id: j for j in Job.objects.filter(task_id__in=self.task_ids)}
            pending = [t for t in self.task_ids if t not in jobs or not jobs[t].is_final]
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if ledger_ids is None:
            ledger_ids = [t for t, j in jobs.items() if j.task_name == "tests.ledger"]
        done = self.done()
        duplicated = [t for t in ledger_ids if done[t] > 1]
        succeeded_without_effect = [t for t in ledger_ids if jobs[t].state == "SUCCESS" and done[t] == 0]
        states = Counter(j.state for j in jobs.values())
        self.figures = {
            "scenario": self.name,
            "jobs": len(self.task_ids),
            "faults": self.faults,
            "final": sum(1 for j in jobs.values() if j.is_final),
            "lost": len(pending),
            "duplicated": len(duplicated),
            "states": dict(states),
            "seconds": round(time.monotonic() - self.started_at, 1),
            **self.notes,
        }
        record_figures(self.figures)
        assert not pending, f"{self.name}: {len(pending)} job(s) never finished: {pending[:5]}"
        assert not duplicated, f"{self.name}: side effect done twice for {duplicated}"
        assert not succeeded_without_effect, (
            f"{self.name}: SUCCESS without its work: {succeeded_without_effect}"
        )
        return jobs


def record_figures(figures: dict) -> None:
    """Append a scenario's figures to var/reliability-figures.json (the README table's source)."""
    path = settings.VAR_DIR / FIGURES_FILE
    runs = []
    if path.exists():
        try:
            runs = json.loads(path.read_text())
        except ValueError:
            runs = []
    figures = {
        **figures,
        "run": settings.BACKROOM_TEST_RUN,
        "database": settings.DATABASES["default"]["ENGINE"],
    }
    runs = [
        r for r in runs if not (r.get("run") == figures["run"] and r.get("scenario") == figures["scenario"])
    ]
    runs.append(figures)
    path.write_text(json.dumps(runs[-200:], indent=1))
    from tests.docs_pages import write_reliability_page

    write_reliability_page(path)
