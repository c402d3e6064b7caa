"""Scenario 9: load. 200 uploads from 20 concurrent clients over HTTP (gunicorn), two media workers:
every upload completes once, none is lost, and `/tasks/<id>/` answers within 50 ms at the 99th
percentile while the workers are busy (that figure is reported here and held by `make bench`, which
runs this same scenario from tests/loadgen.py; the priorities of its processes are explained there).
"""

from __future__ import annotations

import http.client
import os
import statistics
import subprocess
import time

import psutil
import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from config.core import devredis
from config.core.models import Job
from tests import loadgen
from tests.harness import ROOT, WorkerProcess, child_env
from tests.helpers import SOAK
from tests.procfile import procfile_command

pytestmark = [pytest.mark.timing, pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

CLIENTS = 20
UPLOADS = 1000 if SOAK else 200
P99_LIMIT_MS = 50.0
# The web server for this scenario: WEB_CONCURRENCY's default processes. Under ASGI every request
# runs its view in a thread of its own, so a status request never queues for a free thread.
WEB_PROCESSES = 3


class Web:
    """gunicorn serving the app on a free port, publishing to the test's private broker."""

    def __init__(self, broker_url: str) -> None:
        self.port = devredis.free_port()
        # The Procfile's own web command (access log, timeouts and all), sized for this scenario.
        argv = procfile_command("web", PORT=str(self.port), WEB_CONCURRENCY=str(WEB_PROCESSES))
        argv[argv.index("--bind") + 1] = f"127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=child_env(CELERY_BROKER_URL=broker_url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=loadgen.web_priority,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if self.booted():
                return
        raise RuntimeError("gunicorn's workers did not boot within 60 s")

    def booted(self) -> bool:
        """Every worker forked, answering, and done loading (no CPU used for half a second): a
        worker still importing Django would otherwise take its boot out of the measured burst."""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
        except OSError:
            return False
        try:
            # gunicorn runs under `env` (the Procfile's VAR=value prefix), which execs it: same pid.
            workers = psutil.Process(self.proc.pid).children()
            if len(workers) < WEB_PROCESSES:
                return False
            before = sum(sum(w.cpu_times()[:2]) for w in workers)
            time.sleep(0.5)
            return sum(sum(w.cpu_times()[:2]) for w in workers) - before <= 0.02
        except psutil.NoSuchProcess:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def test_200_uploads_20_clients_two_media_workers(scenario, broker, make_user):
    from django.conf import settings

    s = scenario(f"load: {UPLOADS} uploads, {CLIENTS} clients, 2 media workers")
    media_workers = []
    for _ in range(2):
        w = WorkerProcess(
            queues="media,default,notifications",
            concurrency=1,
            env={"CELERY_BROKER_URL": broker.url},
            preexec_fn=loadgen.worker_priority,
        )
        media_workers.append(w.start())
    web = Web(broker.url)
    try:
        cookies = []
        for i in range(CLIENTS):
            c = Client()
            c.force_login(make_user(f"loader{i}"))
            token = _get_new_csrf_string()
            cookies.append((f"sessionid={c.cookies['sessionid'].value}; csrftoken={token}", token))
        clients = loadgen.Clients(
            web.port, cookies, UPLOADS // CLIENTS, [loadgen.photo(i) for i in range(8)]
        ).start()
        # The probe asks for the first upload's status, as its owner's page would, from the first
        # upload until every client saw all its jobs final.
        path = f"/tasks/{clients.first_task_id()}/"
        base = settings.VAR_DIR / f"test-{settings.BACKROOM_TEST_RUN}-probe-{web.port}"
        prober = loadgen.Prober(web.port, cookies[0][0], [path], base)
        wall = clients.join()
        samples = prober.stop()[path]
        uploads_done = max(
            j.created_at for j in Job.objects.filter(task_name="media_app.compress_image")
        ).timestamp()
    finally:
        web.stop()
        for w in media_workers:
            w.stop()
    assert not clients.errors, clients.errors[:5]
    s.task_ids = list(clients.task_ids)
    assert len(s.task_ids) == UPLOADS
    done = s.settle(timeout=5)
    last_finished = max(j.finished_at for j in done.values()).timestamp()
    # Samples taken while some upload was still being worked on.
    busy = [ms for when, ms in samples if when <= last_finished]
    p99 = statistics.quantiles(busy, n=100)[98]
    calm = [ms for when, ms in samples if uploads_done < when <= last_finished]
    if len(calm) > 100:
        s.note(status_p99_ms_after_uploads=round(statistics.quantiles(calm, n=100)[98], 1))
    s.note(
        status_samples=len(busy),
        status_p50_ms=round(statistics.median(busy), 1),
        status_p99_ms=round(p99, 1),
        wall_seconds=round(wall, 1),
        uploads_per_second=round(UPLOADS / wall, 1),
    )
    assert all(j.state == "SUCCESS" for j in done.values()), {j.state for j in done.values()}
    assert all(j.attempts == 1 for j in done.values()), "a job ran more than once"
    # The 50 ms p99 is a timed figure: the house rule keeps timing out of `make test` (a shared
    # CI box's scheduler noise would decide it). It is printed here with the run's figures, and
    # held as a target by `make bench` (status_p99_while_busy_ms < 50). BACKROOM_STRICT_LATENCY=1
    # asserts it here too, for a dedicated machine.
    if os.environ.get("BACKROOM_STRICT_LATENCY"):
        assert p99 < P99_LIMIT_MS, f"/tasks/<id>/ p99 {p99:.1f} ms over {len(busy)} samples"
    assert Job.objects.filter(task_name="media_app.compress_image").count() == UPLOADS


@pytest.mark.skipif(not os.path.exists("/proc/self/autogroup"), reason="no autogroup in this kernel")
def test_prioritise_ranks_the_whole_session():
    """The scenario's priorities hold only if the session's nice is set, not just the process's."""
    proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        loadgen.prioritise(10, proc.pid)
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == 10
        with open(f"/proc/{proc.pid}/autogroup") as f:
            assert f.read().split()[-1] == "10"
    finally:
        proc.kill()
        proc.wait()
