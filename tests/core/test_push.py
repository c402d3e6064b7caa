"""Pushed job status (issue 21, item 3): GET /tasks/stream/ on the Procfile's web command, a real
worker, real Redis pub/sub. Events arrive in order, only on their owner's stream; every path that
changes a job's state (the worker, cancel, the admin's retry, the stuck-job sweep) publishes."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from config.core import push, services
from config.core.errors import MESSAGE_TIMEOUT
from config.core.models import Job
from tests.webserver import WebServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def web(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = WebServer(
            WEB_CONCURRENCY="2", env={"PUSH_HEARTBEAT": "1", "PUSH_STREAM_LIFETIME": "30"}
        ).start()
    yield server
    server.stop()


def cookie(user) -> str:
    c = Client()
    c.force_login(user)
    return f"sessionid={c.cookies['sessionid'].value}"


def unsent_job(owner, *, name="tests.sleep", **kwargs) -> Job:
    """A job row whose task is not sent yet: the stream is open before anything happens to it."""
    return Job.objects.create(
        task_id=str(uuid.uuid4()), owner=owner, kind="push-test", task_name=name, kwargs=kwargs
    )


class Stream:
    """One event stream over http.client (which decodes the chunked body), read event by event."""

    def __init__(self, port: int, user, ids: list[str], last_event_id: str | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        headers = {"Cookie": cookie(user), "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", "/tasks/stream/?ids=" + ",".join(ids), headers=headers)
        self.response = self.conn.getresponse()
        self.comments = 0

    def next_event(self, timeout: float = 20) -> dict | None:
        """The next event as {"event", "id", "data"}, counting comments; None when the stream ends."""
        self.conn.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        event: dict = {}
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no event within {timeout} s")
            line = self.response.readline()
            if not line:
                return None
            line = line.decode().rstrip("\n")
            if not line:
                if event:
                    return event
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            field, _, value = line.partition(": ")
            event[field] = json.loads(value) if field == "data" else value

    def close(self) -> None:
        self.conn.close()


def test_a_job_s_changes_arrive_in_order_on_its_owner_s_stream_only(web, celery_worker, user, other_user):
    job = unsent_job(user, seconds=1.0, steps=4)
    theirs = unsent_job(other_user)  # never sent: keeps the other stream open while ours runs
    mine = Stream(web.port, user, [job.task_id, theirs.task_id, "not-an-id"])
    assert mine.response.status == 200
    assert mine.response.getheader("Content-Type").startswith("text/event-stream")
    assert mine.response.getheader("Content-Security-Policy")
    assert mine.next_event() == {"retry": "2000"}
    snapshot = mine.next_event()
    assert snapshot["event"] == "job" and snapshot["data"]["task_id"] == job.task_id
    assert snapshot["data"]["state"] == "QUEUED"
    other = Stream(web.port, other_user, [theirs.task_id, job.task_id])
    assert other.next_event() == {"retry": "2000"}
    assert other.next_event()["data"]["task_id"] == theirs.task_id

    services.job_send(job=job)
    seen = []
    while (event := mine.next_event()) is not None and event.get("event") == "job":
        seen.append(event)
    assert event == {"event": "done", "data": {}}
    assert mine.next_event() is None  # and the stream ends
    states = [e["data"]["state"] for e in seen]
    assert states == ["STARTED", "PROGRESS", "PROGRESS", "PROGRESS", "PROGRESS", "SUCCESS"], states
    assert [e["data"]["progress"]["current"] for e in seen[1:5]] == [1, 2, 3, 4]
    assert {e["data"]["task_id"] for e in seen} == {job.task_id}
    assert [int(e["id"]) for e in seen] == sorted(int(e["id"]) for e in seen)
    assert seen[-1]["data"]["result"] == {"slept": 1.0}
    assert theirs.task_id not in {e["data"]["task_id"] for e in seen}

    # The other stream saw heartbeats while ours ran, and nothing of our job.
    with pytest.raises(TimeoutError):
        other.next_event(timeout=1.5)
    assert other.comments >= 1
    other.close()
    mine.close()


def test_someone_else_s_ids_alone_give_an_empty_stream(web, user, other_user):
    job = unsent_job(user)
    theirs = Stream(web.port, other_user, [job.task_id])
    assert theirs.response.status == 200
    assert theirs.next_event() == {"retry": "2000"}
    assert theirs.next_event() == {"event": "done", "data": {}}
    theirs.close()


def test_no_ids_is_a_400_and_anonymous_is_a_404(web, user):
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
    conn.request(
        "GET", "/tasks/stream/?ids=nope", headers={"Cookie": cookie(user), "Accept": "application/json"}
    )
    response = conn.getresponse()
    assert response.status == 400 and "Say which jobs" in json.loads(response.read())["error"]
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
    conn.request("GET", f"/tasks/stream/?ids={uuid.uuid4()}", headers={"Accept": "application/json"})
    assert conn.getresponse().status == 404
    conn.close()


def test_a_reconnect_with_last_event_id_skips_jobs_unchanged_since(web, user):
    old = unsent_job(user)
    Job.objects.filter(pk=old.pk).update(updated_at=old.updated_at.replace(year=2020))
    fresh = unsent_job(user)
    first = Stream(web.port, user, [old.task_id, fresh.task_id])
    first.next_event()
    ids = {first.next_event()["data"]["task_id"], first.next_event()["data"]["task_id"]}
    assert ids == {old.task_id, fresh.task_id}
    first.close()
    stamp = str(int(fresh.updated_at.timestamp() * 1_000_000))
    again = Stream(web.port, user, [old.task_id, fresh.task_id], last_event_id=stamp)
    again.next_event()
    assert again.next_event()["data"]["task_id"] == fresh.task_id
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        again.next_event(timeout=1.5)  # the old job is not resent; heartbeats only
    assert time.monotonic() - started >= 1.0 and again.comments >= 1
    again.close()


def test_open_streams_hold_no_thread_of_the_web_server(web, user):
    """Fifty watchers waiting: the server's thread count stays where it was (a thread per stream
    would add fifty)."""
    import psutil

    job = unsent_job(user)

    def threads() -> int:
        procs = [psutil.Process(web.proc.pid), *psutil.Process(web.proc.pid).children(recursive=True)]
        return sum(p.num_threads() for p in procs)

    Stream(web.port, user, [job.task_id]).close()  # warm: every lazily started thread is there
    before = threads()
    streams = [Stream(web.port, user, [job.task_id]) for _ in range(50)]
    try:
        for s in streams:
            assert s.next_event() == {"retry": "2000"}
            assert s.next_event()["data"]["state"] == "QUEUED"
        assert threads() < before + 10, (before, threads())
    finally:
        for s in streams:
            s.close()


class Subscriber:
    """A plain Redis subscriber on an owner's channel: what every web process's hub hears."""

    def __init__(self, owner_id: int) -> None:
        import redis

        self.client = redis.Redis.from_url(settings.REDIS_URL)
        self.pubsub = self.client.pubsub()
        self.pubsub.subscribe(push.channel(owner_id))
        confirmed = self.pubsub.get_message(timeout=10)
        assert confirmed and confirmed["type"] == "subscribe", confirmed

    def next_payload(self, timeout: float = 20) -> dict:
        message = self.pubsub.get_message(timeout=timeout)
        if message is None:
            raise TimeoutError(f"nothing published within {timeout} s")
        return json.loads(message["data"])

    def until_final(self) -> list[dict]:
        seen = [self.next_payload()]
        while seen[-1]["poll_after_ms"] is not None:
            seen.append(self.next_payload())
        return seen

    def close(self) -> None:
        self.pubsub.close()
        self.client.close()


def failed_job(owner, error: str = MESSAGE_TIMEOUT) -> Job:
    return Job.objects.create(
        task_id=str(uuid.uuid4()),
        owner=owner,
        kind="push-test",
        task_name="tests.sleep",
        kwargs={"seconds": 0.4, "steps": 2},
        state=Job.State.FAILURE,
        error=error,
        finished_at=timezone.now(),
    )


def test_a_job_retried_from_the_admin_publishes_its_new_run(celery_worker, user, admin_client):
    job = failed_job(user)
    failed_at = job.updated_at
    subscriber = Subscriber(user.pk)
    try:
        response = admin_client.post(
            "/admin/core/job/", {"action": "retry_failed", "_selected_action": [job.pk]}, follow=True
        )
        assert "1 failed job(s) re-queued." in response.content.decode()
        seen = subscriber.until_final()
    finally:
        subscriber.close()
    job.refresh_from_db()
    assert {e["task_id"] for e in seen} == {job.task_id}  # the new run's id, the one a page now watches
    states = [e["state"] for e in seen]
    assert states == ["QUEUED", "STARTED", "PROGRESS", "PROGRESS", "SUCCESS"], states
    assert seen[0]["error"] is None and seen[0]["progress"] is None  # the old failure is gone
    # Newer than the failure: a stream that sent the failed state takes the re-run's events.
    assert seen[0]["updated"] > int(failed_at.timestamp() * 1_000_000)
    assert [e["updated"] for e in seen] == sorted(e["updated"] for e in seen)


def test_a_job_cancelled_from_the_admin_publishes_its_end(user, admin_client):
    job = unsent_job(user)
    subscriber = Subscriber(user.pk)
    try:
        admin_client.post("/admin/core/job/", {"action": "cancel_active", "_selected_action": [job.pk]})
        event = subscriber.next_payload()
    finally:
        subscriber.close()
    assert (event["task_id"], event["state"], event["poll_after_ms"]) == (job.task_id, "CANCELLED", None)


def test_a_job_the_sweep_fails_as_stuck_publishes_its_failure(user):
    from config.ops import services as ops_services

    job = unsent_job(user)
    long_ago = timezone.now() - timedelta(hours=3)
    Job.objects.filter(pk=job.pk).update(state=Job.State.STARTED, started_at=long_ago, updated_at=long_ago)
    subscriber = Subscriber(user.pk)
    try:
        assert ops_services.jobs_fail_stuck(stuck_after_seconds=60) == 1
        event = subscriber.next_payload()
    finally:
        subscriber.close()
    assert (event["task_id"], event["state"], event["poll_after_ms"]) == (job.task_id, "FAILURE", None)
    assert event["error"]


def test_under_wsgi_the_stream_is_refused_so_pages_poll(live_server, user):
    """pytest-django's live_server is WSGI, like config/wsgi.py: there a stream would reach the page
    only once it ended, so it is a 503 with a sentence (EventSource gives up; app.js polls)."""
    from urllib.parse import urlsplit

    job = unsent_job(user)
    address = urlsplit(live_server.url)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=20)
    conn.request(
        "GET",
        f"/tasks/stream/?ids={job.task_id}",
        headers={"Cookie": cookie(user), "Accept": "text/event-stream"},
    )
    response = conn.getresponse()
    assert response.status == 503
    assert response.getheader("Content-Type") == "application/json"
    assert "Live updates need the ASGI web server" in json.loads(response.read())["error"]
    conn.close()


def test_a_scheduled_report_run_now_from_the_admin_publishes_its_export_s_job(
    celery_worker, user, admin_client
):
    """Run now sends the schedule's task (a job of no one's); the export it asks for is the owner's
    job, and its changes reach the owner's streams like any other."""
    from datetime import time as clock_time

    from reports import services as reports_services
    from reports.models import Export

    schedule = reports_services.schedule_create(
        user=user,
        kind="job_history",
        format="csv",
        columns=[],
        filters={},
        frequency="daily",
        at=clock_time(8),
    )
    subscriber = Subscriber(user.pk)
    try:
        response = admin_client.post(
            "/admin/django_celery_beat/periodictask/",
            {"action": "run_tasks", "_selected_action": [schedule.periodic_task_id]},
            follow=True,
        )
        assert "1 task(s) sent." in response.content.decode()
        # Until the export's job is final. The schedule's email of the file is the owner's job too,
        # and may start before the export's last state is stored: its events are on this stream.
        seen = []
        while not seen or not (
            seen[-1]["poll_after_ms"] is None and seen[-1]["task_id"] in export_jobs(schedule)
        ):
            seen.append(subscriber.next_payload())
    finally:
        subscriber.close()
    export = Export.objects.get(schedule=schedule)
    mine = [e for e in seen if e["task_id"] == export.job.task_id]
    assert mine[0]["state"] == "STARTED" and mine[-1]["state"] == "SUCCESS", seen
    others = {e["task_id"] for e in seen} - {export.job.task_id}
    # Nothing of anyone else's, and nothing of the schedule's own task (a job of no one's).
    assert Job.objects.filter(task_id__in=others, owner=user).count() == len(others), seen


def export_jobs(schedule) -> set[str]:
    from reports.models import Export

    return set(Export.objects.filter(schedule=schedule).values_list("job__task_id", flat=True))


def test_a_web_process_that_cannot_reach_redis_says_unavailable_and_ends(user):
    """Its hub cannot subscribe: the stream says so at once and ends, and app.js polls instead."""
    from config.core import devredis

    job = unsent_job(user)
    nowhere = f"redis://127.0.0.1:{devredis.free_port()}/0"  # nothing listens there
    server = WebServer(WEB_CONCURRENCY="1", env={"REDIS_URL": nowhere}).start()
    try:
        stream = Stream(server.port, user, [job.task_id])
        assert stream.response.status == 200
        assert stream.next_event() == {"retry": "2000"}
        assert stream.next_event() == {"event": "unavailable", "data": {}}
        assert stream.next_event() is None
        stream.close()
    finally:
        server.stop()


def test_a_changed_row_is_published_as_a_read_after_commit_would_see_it(user):
    """Each change publishes the row its UPDATE … RETURNING gave back (no second read): the same
    values, types and time stamp as the SELECT the stream's snapshot makes, on either database."""
    job = unsent_job(user)
    Job.objects.filter(pk=job.pk).update(result={"rows": 3, "name": "é"}, progress_total=10)
    [row] = services._update_returning(
        Job.objects.filter(pk=job.pk, state=Job.State.QUEUED),
        {"state": Job.State.SUCCESS, "progress_current": 10, "updated_at": timezone.now()},
    )
    read = Job.objects.filter(pk=job.pk).values(*push.STATUS_FIELDS).get()
    assert row == read
    assert row["state"] == "SUCCESS" and row["result"] == {"rows": 3, "name": "é"}
    assert timezone.is_aware(row["updated_at"]) and push.stamp(row) == push.stamp(read)
    assert push.event_payload(row) == push.event_payload(read)
    # A row that no longer matches comes back as nothing, and is left as it was.
    assert (
        services._update_returning(
            Job.objects.filter(pk=job.pk, state=Job.State.QUEUED), {"state": Job.State.FAILURE}
        )
        == []
    )
    assert Job.objects.get(pk=job.pk).state == "SUCCESS"
