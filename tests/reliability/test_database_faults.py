"""The database fails under a running task: PostgreSQL restarted. The worker reconnects and the job
completes or is retried; nothing is lost or done twice. And jobs whose execution vanished (its
worker and its message both gone) do not stay STARTED forever: the cleanup's sweep settles them."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection

from config.core.models import Job

pytestmark = [pytest.mark.timing, pytest.mark.reliability, pytest.mark.django_db(transaction=True)]


def restart_postgresql() -> float:
    """Restart the local cluster the test database lives on (this machine's; CI's too)."""
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    started = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return time.monotonic() - started


def can_restart_postgresql() -> str | None:
    if connection.vendor != "postgresql":
        return "the test database is not PostgreSQL (run with DATABASE_URL=postgres://…)"
    if not shutil.which("pg_ctlcluster") or not Path("/etc/postgresql").is_dir():
        return "pg_ctlcluster is not available to restart the local PostgreSQL"
    host = connection.settings_dict.get("HOST") or "127.0.0.1"
    if host not in ("127.0.0.1", "localhost", ""):
        return f"PostgreSQL at {host} is not on this machine"
    return None


def test_postgresql_restarted_during_a_task(scenario, workers):
    reason = can_restart_postgresql()
    if reason:
        pytest.skip(reason)
    s = scenario("PostgreSQL restarted mid-task")
    workers(concurrency=2)
    jobs = [s.submit(seconds=4, steps=8) for _ in range(4)]
    s.wait_started(jobs[0].task_id)
    s.wait_started(jobs[1].task_id)
    connection.close()
    down_seconds = restart_postgresql()
    s.fault()
    connection.close()  # this process's connection died with the server too
    done = s.settle(timeout=120)
    s.note(restart_seconds=round(down_seconds, 1))
    assert all(j.state == "SUCCESS" for j in done.values()), {t: (j.state, j.error) for t, j in done.items()}
    # The two jobs running at the restart lost their connection mid-task and were run again.
    assert [done[j.task_id].attempts for j in jobs[:2]] == [2, 2]
    # The worker is healthy afterwards: a new job runs.
    after = s.submit(seconds=0)
    assert s.settle(timeout=30)[after.task_id].state == "SUCCESS"


def test_sweeper_settles_jobs_whose_execution_vanished(scenario, workers):
    """Scenario 3's backstop: a worker killed while its broker lost the message too (no
    append-only file) leaves a job STARTED with nothing left to run it. The cleanup's sweep marks it
    FAILURE with a sentence for its owner instead of leaving it STARTED forever."""
    s = scenario("stale STARTED job settled by the sweeper")
    first = workers(concurrency=1)
    job = s.submit(seconds=30, steps=30)
    s.wait_started(job.task_id)
    first.kill()
    s.broker.client().flushall()  # the broker lost its data: no message will ever come back
    s.fault(2)
    assert Job.objects.get(task_id=job.task_id).state in ("STARTED", "PROGRESS")
    workers(concurrency=1)
    time.sleep(1.5)  # past the sweep's threshold below
    sweep = s.submit("ops.cleanup", stuck_after_seconds=1, orphan_grace_hours=24)
    done = s.settle(timeout=60, ledger_ids=[])
    assert done[sweep.task_id].state == "SUCCESS", done[sweep.task_id].error
    assert done[sweep.task_id].result["jobs_failed"] >= 1
    stale = done[job.task_id]
    assert stale.state == "FAILURE" and stale.error and "Traceback" not in stale.error
