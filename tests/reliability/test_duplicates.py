"""The same task id delivered more than once: after it finished, at the same moment, and again by
Redis when a task outlives the visibility timeout. One side effect; a finished job stays finished."""

from __future__ import annotations

import pytest

from config.celery_app import app
from config.core.models import Job
from tests.harness import publishing_to
from tests.reliability.faults import VISIBILITY_TIMEOUT

pytestmark = [pytest.mark.timing, pytest.mark.reliability, pytest.mark.django_db(transaction=True)]


def deliver_again(s, job, times: int = 1) -> None:
    with publishing_to(s.broker.url):
        for _ in range(times):
            app.send_task(job.task_name, args=job.args, kwargs=job.kwargs, task_id=job.task_id)
    s.fault(times)


def test_late_duplicates_of_a_finished_job_change_nothing(scenario, workers):
    s = scenario("same task id again after it finished")
    workers(concurrency=2)
    job = s.submit(seconds=0.2)
    first = s.settle()[job.task_id]
    deliver_again(s, job, times=3)
    probe = s.submit(seconds=0)  # one worker, FIFO: once the probe is done, the duplicates were seen
    done = s.settle()
    again = done[job.task_id]
    assert done[probe.task_id].state == "SUCCESS"
    assert (again.state, again.result, again.attempts, again.finished_at) == (
        "SUCCESS",
        first.result,
        1,
        first.finished_at,
    )
    assert len(s.starts(job.task_id)) == 1


def test_simultaneous_deliveries_run_once(scenario, workers):
    s = scenario("same task id delivered 4 times at once")
    workers(concurrency=4)
    jobs = [s.submit(seconds=1.5, steps=3) for _ in range(3)]
    for job in jobs:
        deliver_again(s, job, times=3)
    done = s.settle(timeout=60)
    for job in jobs:
        assert done[job.task_id].attempts == 1 and done[job.task_id].interrupted == 0
        assert len(s.starts(job.task_id)) == 1


def test_task_outliving_the_visibility_timeout_is_not_run_twice(scenario, workers):
    """Celery's best-known Redis pitfall: a task running longer than the visibility timeout is handed
    to a second worker while the first still works on it. The job lease keeps it to one execution."""
    s = scenario("task longer than the visibility timeout")
    pair = [workers(concurrency=1), workers(concurrency=1)]
    job = s.submit(seconds=VISIBILITY_TIMEOUT + 5, steps=5)
    s.fault()
    done = s.settle(timeout=VISIBILITY_TIMEOUT + 60)
    received = sum(w.log_path.read_text().count(f"[{job.task_id}] received") for w in pair)
    assert received >= 2, "Redis did not redeliver the message: the scenario did not happen"
    assert done[job.task_id].state == "SUCCESS" and done[job.task_id].interrupted == 0
    assert len(s.starts(job.task_id)) == 1
    assert not Job.objects.filter(state__in=["STARTED", "RETRY"]).exists()
