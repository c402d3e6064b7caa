"""GET /metrics (issue 21, item 4) through the Procfile's web command with two processes, parsed by
prometheus_client's own parser, while a real worker runs real jobs."""

from __future__ import annotations

import time
import uuid

import psutil
import pytest
from django.db import transaction
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from config.core import services
from tests.webserver import WebServer, connect, read_response, request_head

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "metrics-test-token-0123456789"
JOBS = 5
IDLE_QUEUE = "metrics-idle"  # no worker consumes it: its messages wait


@pytest.fixture(scope="module")
def web(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = WebServer(
            WEB_CONCURRENCY="2", env={"METRICS_TOKEN": TOKEN, "METRICS_QUEUES": f"default,{IDLE_QUEUE}"}
        ).start()
    yield server
    server.stop()


def get(port: int, path: str, headers: dict[str, str] | None = None, sock=None):
    sock = sock or connect(port)
    sock.sendall(request_head("GET", path, {"Connection": "close", **(headers or {})}))
    return read_response(sock, timeout=15)


def families(body: bytes) -> dict:
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def value(fams: dict, name: str, **labels) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    family_name = name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
    return sum(
        s.value
        for s in fams[family_name].samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def connection_per_process(server: WebServer, attempts: int = 60) -> dict[int, object]:
    """One open connection accepted by each web process (the kernel picks who accepts; we look)."""
    children = psutil.Process(server.proc.pid).children()
    found: dict[int, object] = {}
    for _ in range(attempts):
        sock = connect(server.port)
        local_port = sock.getsockname()[1]
        owner = None
        deadline = time.monotonic() + 2
        while owner is None and time.monotonic() < deadline:
            for child in children:
                if any(c.raddr and c.raddr.port == local_port for c in child.net_connections("tcp")):
                    owner = child.pid
            time.sleep(0.02)
        if owner is not None and owner not in found:
            found[owner] = sock
        else:
            sock.close()
        if len(found) == len(children):
            break
    return found


def test_a_scrape_through_either_process_counts_the_jobs_done(web, celery_worker, user, wait_job):
    with transaction.atomic():
        jobs = [
            services.job_create(owner=user, kind="metrics-test", task_name="tests.echo", kwargs={"value": i})
            for i in range(JOBS)
        ]
    failed = None
    with transaction.atomic():
        failed = services.job_create(owner=user, kind="metrics-test", task_name="tests.fail")
    for job in [*jobs, failed]:
        wait_job(job.task_id)

    sockets = connection_per_process(web)
    assert len(sockets) == 2, "both web processes must have accepted a connection"
    for pid, sock in sockets.items():
        response = get(web.port, "/metrics", {"Authorization": f"Bearer {TOKEN}"}, sock=sock)
        assert response.status == 200, (pid, response)
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        fams = families(response.body)
        assert value(fams, "backroom_jobs", kind="metrics-test", state="SUCCESS") == JOBS, pid
        assert value(fams, "backroom_jobs", kind="metrics-test", state="FAILURE") == 1
        assert value(fams, "backroom_jobs_finished_recent", kind="metrics-test", state="SUCCESS") == JOBS
        assert value(fams, "backroom_job_wait_seconds_count", kind="metrics-test") == JOBS + 1
        assert value(fams, "backroom_job_run_seconds_bucket", kind="metrics-test", le="+Inf") == JOBS + 1
        assert (
            value(
                fams,
                "backroom_job_failures_recent",
                kind="metrics-test",
                reason="That file is not an image we can read.",
            )
            == 1
        )
        assert value(fams, "backroom_workers_online_total") >= 1
        assert value(fams, "backroom_queue_depth", queue="default") == 0
        assert "backroom_beat_last_tick_age_seconds" in fams
        assert {s.labels["part"]: s.value for s in fams["backroom_metrics_part_up"].samples} == {
            "jobs": 1,
            "window": 1,
            "queues": 1,
            "beat": 1,
            "workers": 1,
        }


def test_queue_depth_and_oldest_message_age_of_a_queue_nobody_consumes(web, user):
    from config.celery_app import app
    from config.core.models import Job

    jobs = [
        Job.objects.create(
            task_id=str(uuid.uuid4()), owner=user, kind="metrics-queued", task_name="tests.echo"
        )
        for _ in range(3)
    ]
    try:
        for job in jobs:
            app.send_task(job.task_name, task_id=job.task_id, queue=IDLE_QUEUE)
        high = Job.objects.create(
            task_id=str(uuid.uuid4()), owner=user, kind="metrics-queued", task_name="tests.echo"
        )
        app.send_task(high.task_name, task_id=high.task_id, queue=IDLE_QUEUE, priority=9)
        time.sleep(1.2)
        fams = families(get(web.port, "/metrics", {"Authorization": f"Bearer {TOKEN}"}).body)
        assert value(fams, "backroom_queue_depth", queue=IDLE_QUEUE) == 4  # the priority list too
        assert value(fams, "backroom_queue_oldest_message_age_seconds", queue=IDLE_QUEUE) >= 1.0
        assert value(fams, "backroom_queue_oldest_message_age_seconds", queue="default") == 0
        assert value(fams, "backroom_jobs", kind="metrics-queued", state="QUEUED") == 4
    finally:
        import redis
        from django.conf import settings

        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        broker.delete(IDLE_QUEUE, *(f"{IDLE_QUEUE}\x06\x16{p}" for p in (3, 6, 9)))


def test_anonymous_non_staff_and_wrong_token_get_404_staff_gets_metrics(web, user, make_user):
    assert get(web.port, "/metrics").status == 404
    assert get(web.port, "/metrics", {"Authorization": "Bearer wrong"}).status == 404
    assert get(web.port, "/metrics", {"Authorization": f"Basic {TOKEN}"}).status == 404
    assert get(web.port, "/metrics", {"Accept": "text/html"}).status == 404

    def session_of(someone) -> dict[str, str]:
        c = Client()
        c.force_login(someone)
        return {"Cookie": f"sessionid={c.cookies['sessionid'].value}"}

    assert get(web.port, "/metrics", session_of(user)).status == 404
    staff = make_user("operator", is_staff=True)
    response = get(web.port, "/metrics", session_of(staff))
    assert response.status == 200
    assert "backroom_jobs" in families(response.body)


def test_retries_and_cancellations_are_counted_by_kind(web, celery_worker, user, wait_job, tmp_path):
    from config.core.models import Job
    from tests import djtasks

    def scrape() -> dict:
        return families(get(web.port, "/metrics", {"Authorization": f"Bearer {TOKEN}"}).body)

    retried_kind, cancelled_kind = "tests.djtasks.flaky", "metrics-cancelled"
    before = scrape()
    result = djtasks.flaky.enqueue(str(tmp_path / "flaky"))  # fails once, retried, then succeeds
    held = Job.objects.create(
        task_id=str(uuid.uuid4()), owner=user, kind=cancelled_kind, task_name="tests.echo"
    )
    services.job_cancel(job=held)
    assert wait_job(result.id).state == "SUCCESS"
    after = scrape()

    def grown(name: str, kind: str) -> float:
        return value(after, name, kind=kind) - value(before, name, kind=kind)

    assert grown("backroom_job_retries_recent", retried_kind) == 1
    assert grown("backroom_job_cancellations_recent", cancelled_kind) == 1
    assert grown("backroom_jobs_finished_recent", cancelled_kind) == 1


def test_every_metric_the_example_alerts_use_is_one_the_endpoint_serves(web):
    """docs/alerts.yml names only metrics a scrape has, and has the three alerts the README promises.
    Read as lines, not YAML: no YAML parser is among our requirements."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "alerts.yml").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    alerts = set(re.findall(r"^\s*- alert: (\w+)$", "\n".join(lines), re.MULTILINE))
    assert {"BackroomQueueOldestMessageTooOld", "BackroomJobFailureRateHigh", "BackroomBeatStale"} <= alerts
    used = set(re.findall(r"\bbackroom_[a-z_]+", "\n".join(lines)))
    assert used, "no metric found in docs/alerts.yml"
    served = set(families(get(web.port, "/metrics", {"Authorization": f"Bearer {TOKEN}"}).body))
    for name in sorted(used):
        assert name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum") in served, name
