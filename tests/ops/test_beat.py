"""Beat on the database scheduler, for real: schedules edited as the admin edits them, two beats."""

import itertools
import json
import signal
import time
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_celery_results.models import TaskResult

pytestmark = [pytest.mark.timing, pytest.mark.django_db(transaction=True)]


class _FormReader(HTMLParser):
    def __init__(self):
        super().__init__()
        self.values, self._select = {}, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "checkbox", "radio"):
            self.values[name] = attrs.get("value") or ""
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def form_values(response) -> dict:
    reader = _FormReader()
    reader.feed(response.content.decode())
    return reader.values


def quiet_other_schedules():
    """The seeded jobs are not under test here; keep beat's log about the probe only."""
    PeriodicTask.objects.exclude(name__startswith="probe").update(enabled=False)


def test_interval_changed_in_the_admin_takes_effect_without_restart(celery_worker, start_beat, admin_client):
    quiet_other_schedules()
    hourly = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS)
    PeriodicTask.objects.create(
        name="probe-cadence", task="tests.echo", interval=hourly, kwargs=json.dumps({"value": "tick"})
    )
    beat = start_beat("cadence")
    beat.wait_for_log("took the lease")
    beat.wait_for_log("beat: Starting")
    time.sleep(3)  # a few ticks: an hourly task is not due
    assert not TaskResult.objects.filter(periodic_task_name="probe-cadence").exists()

    # The admin's change form for the schedule, submitted as a person would: what the page holds,
    # with two fields changed.
    url = f"/admin/django_celery_beat/intervalschedule/{hourly.pk}/change/"
    response = admin_client.post(
        url, {**form_values(admin_client.get(url)), "every": "2", "period": "seconds"}
    )
    assert response.status_code == 302, response.content[:500]
    hourly.refresh_from_db()
    assert (hourly.every, hourly.period) == (2, "seconds")

    deadline = time.monotonic() + 45
    runs = []
    while time.monotonic() < deadline:
        runs = list(
            TaskResult.objects.filter(periodic_task_name="probe-cadence", status="SUCCESS").order_by(
                "date_done"
            )
        )
        if len(runs) >= 3:
            break
        time.sleep(0.5)
    assert len(runs) >= 3, beat.log()
    assert all(json.loads(r.result)["value"] == "tick" for r in runs)
    assert "Schedule changed" in beat.log()
    assert beat.proc.poll() is None  # the same process, never restarted


def test_two_beats_send_once_per_period_and_the_standby_takes_over_from_a_dead_leader(
    start_beat, private_queue
):
    quiet_other_schedules()
    every = 2
    PeriodicTask.objects.create(
        name="probe-two-beats",
        task="tests.echo",
        interval=IntervalSchedule.objects.create(every=every, period=IntervalSchedule.SECONDS),
        queue=private_queue.name,  # nobody consumes it: every send stays there to be counted
    )
    first, second = start_beat("one"), start_beat("two")
    first.wait_for_log("beat: Starting")
    second.wait_for_log("beat: Starting")
    started = time.monotonic()
    time.sleep(24)

    leaders = [b for b in (first, second) if "took the lease" in b.log()]
    assert len(leaders) == 1, (first.log(), second.log())
    leader = leaders[0]
    standby = second if leader is first else first
    assert standby.sends("probe-two-beats") == 0
    assert leader.sends("probe-two-beats") >= 5

    # The leader dies without a word (SIGKILL: no lease released, nothing flushed). Once its lease
    # expires the standby takes over and carries on from the last run the leader recorded.
    leader.stop(signal.SIGKILL)
    standby.wait_for_log("took the lease", timeout=60)
    time.sleep(8)
    standby.stop()
    elapsed = time.monotonic() - started

    messages = private_queue.messages()
    logged = leader.sends("probe-two-beats") + standby.sends("probe-two-beats")
    assert standby.sends("probe-two-beats") >= 1
    # Beat logs "Sending due task" before it publishes, and records the run after: a leader killed
    # between the log line and the publish logged one send more than it made (that run is not lost:
    # the standby finds it unrecorded and sends it), and one killed between the publish and the
    # record leaves its last period to be sent again by the standby, under the same slot, where the
    # slot claim in config.ops.periodic runs it once (test_a_slot_runs_once_and_run_now_always_runs).
    # Either happens at the kill only: at most one send in flight, at most one slot sent twice.
    assert 0 <= logged - len(messages) <= 1, (logged, len(messages))
    slots = [m["headers"]["backroom_slot"] for m in messages]
    assert len(slots) - len(set(slots)) <= 1, "two sends for one period, away from the takeover"
    # One send per period: two beats both sending would make about twice as many.
    assert len(set(slots)) <= elapsed / every + 2
    for message in messages:
        assert message["headers"]["periodic_task_name"] == "probe-two-beats"
        assert message["headers"]["celery_beat_task"] is True
    # No period lost, and runs do not pile up: each run expires when the next one is due, and a slot
    # names the previous run, so the next message's slot is this one's send time. A period lost at
    # the takeover (recorded by the dead leader, never published) breaks the chain: the next slot
    # would name a run that no message made. Of a slot sent twice, the standby's copy (sent later,
    # so expiring later) is the one the chain goes on from.
    latest: dict[str, dict] = {}
    for message in messages:
        slot = message["headers"]["backroom_slot"]
        expiry = message["headers"]["backroom_expires"]
        if slot not in latest or expiry > latest[slot]["headers"]["backroom_expires"]:
            latest[slot] = message
    # The expiry is on Redis's clock (backroom_expires), never Celery's, which a worker's clock judges.
    assert all(m["headers"]["expires"] is None for m in messages)
    chain = [latest[slot] for slot in sorted(latest)]
    for sent, following in itertools.pairwise(chain):
        expires = datetime.fromtimestamp(float(sent["headers"]["backroom_expires"]), UTC)
        sent_at = datetime.fromisoformat(following["headers"]["backroom_slot"].split("@", 1)[1])
        assert 0 < (expires - sent_at).total_seconds() <= every + 1


def test_a_slot_runs_once_and_run_now_always_runs(celery_worker, wait_job):
    """The backstop behind the lease: two messages for one slot make one run."""
    from config.celery_app import app

    slot = {"backroom_slot": "redispatch@2026-01-01T00:00:00+00:00", "celery_beat_task": True}
    first = app.send_task("ops.redispatch", headers=slot)
    assert wait_job(first.id).result == {"sent": 0}
    duplicate = app.send_task("ops.redispatch", headers=slot)
    assert wait_job(duplicate.id).result == {"skipped": "already ran for this period"}
    by_hand = app.send_task("ops.redispatch", headers={"periodic_task_name": "redispatch"})
    assert wait_job(by_hand.id).result == {"sent": 0}


def test_a_job_still_running_is_not_started_again(celery_worker, wait_job):
    from config.celery_app import app
    from config.ops import locks

    with locks.hold("ops:running:ops.statistics", token="an-earlier-run", timeout=60) as held:
        assert held
        skipped = app.send_task("ops.statistics")
        assert wait_job(skipped.id).result == {"skipped": "already running"}
    ran = app.send_task("ops.statistics", kwargs={"days_back": 0})
    assert "days" in wait_job(ran.id).result
