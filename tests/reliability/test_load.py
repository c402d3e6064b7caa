"""Scenario 9: load. 200 uploads from 20 concurrent clients over HTTP (gunicorn), two media workers:
every upload completes once, none is lost, and `/tasks/<id>/` answers within 50 ms at the 99th
percentile while the workers are busy (that figure is reported here and held by `make bench`).

The web server, the workers and the load generator share this machine's CPUs here; in production
they run apart. So the workers and the client threads run at a lower priority (nice 10) and the web
server and the probe at a higher one (nice -5, where allowed), each session included (see
`prioritise`): the figure is the web path's, not that of a CPU fight a real deployment does not have.
The latency is measured by a process of its own, one request at a time, from sending the request to
reading the whole answer."""

from __future__ import annotations

import http.client
import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid

import psutil
import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from PIL import Image as PILImage

from config.core import devredis
from config.core.models import Job
from tests.harness import ROOT, WorkerProcess, child_env
from tests.procfile import procfile_command
from tests.reliability.conftest import SOAK

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

CLIENTS = 20
UPLOADS = 1000 if SOAK else 200
P99_LIMIT_MS = 50.0
# gunicorn for this scenario: WEB_CONCURRENCY's default processes, with threads enough for every
# client at once (keep-alive pins a connection to one process), so a status request never queues
# behind uploads for a free thread.
WEB_PROCESSES, WEB_THREADS = 3, 8


def photo(seed: int) -> bytes:
    image = PILImage.linear_gradient("L").resize((1024, 768)).convert("RGB")
    image.putpixel((seed % 1024, seed % 768), (seed % 255, 0, 0))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def multipart(field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def prioritise(nice: int, pid: int | None = None) -> None:
    """Give a process (by default this one) and its session the priority `nice`.

    Linux's autogroup (`/proc/sys/kernel/sched_autogroup_enabled`, on in CI) first shares the CPUs
    equally between sessions; a process's own nice only ranks it inside its session. The web server,
    the workers and the probe each run in a session of their own, so a worker at nice 10 used to get
    as much CPU as the web server at nice -5, and the status p99 measured that fight (52-92 ms against
    18-37 ms with the sessions ranked too, interleaved runs). The session's nice is
    `/proc/<pid>/autogroup`. Going below 0 needs root (CI runs as root); where refused, or where the
    kernel has no autogroup, the rest still applies.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, pid or 0, nice)
    except OSError:
        pass
    try:
        with open(f"/proc/{pid or 'self'}/autogroup", "w") as f:
            f.write(str(nice))
    except OSError:
        pass


def web_priority() -> None:
    """Run the web server and the probe ahead of everything else on this machine, as they would be
    on machines of their own. Called in the child, after it started its own session."""
    prioritise(-5)


class Web:
    """gunicorn serving the app on a free port, publishing to the test's private broker."""

    def __init__(self, broker_url: str) -> None:
        self.port = devredis.free_port()
        # The Procfile's own web command (access log, timeouts and all), sized for this scenario.
        argv = procfile_command(
            "web", PORT=str(self.port), WEB_CONCURRENCY=str(WEB_PROCESSES), WEB_THREADS=str(WEB_THREADS)
        )
        argv[argv.index("--bind") + 1] = f"127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=child_env(CELERY_BROKER_URL=broker_url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=web_priority,
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


PROBE_SCRIPT = """
import http.client, json, os, sys, time
port, cookie, task_id, out, stop = sys.argv[1:6]
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
samples = []
while not os.path.exists(stop):
    started = time.perf_counter()
    conn.request("GET", f"/tasks/{task_id}/", headers={"Cookie": cookie, "Accept": "application/json"})
    conn.getresponse().read()
    samples.append((time.time(), (time.perf_counter() - started) * 1000))
    time.sleep(0.02)
json.dump(samples, open(out, "w"))
"""


class Prober:
    """Measures `/tasks/<id>/` from a process of its own, one request at a time, so the figure is
    the server's answer time, not the load generator's thread scheduling."""

    def __init__(self, port: int, cookie: str, task_id: str) -> None:
        from django.conf import settings

        base = settings.VAR_DIR / f"test-{settings.BACKROOM_TEST_RUN}-probe-{port}"
        self.out, self.stop_file = base.with_suffix(".json"), base.with_suffix(".stop")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                PROBE_SCRIPT,
                str(port),
                cookie,
                task_id,
                str(self.out),
                str(self.stop_file),
            ],
            preexec_fn=web_priority,
            # A session of its own, so that its priority is not that of the load generator's.
            start_new_session=True,
        )

    def stop(self) -> list[tuple[float, float]]:
        self.stop_file.touch()
        self.proc.wait(30)
        samples = json.loads(self.out.read_text())
        self.out.unlink()
        self.stop_file.unlink()
        return samples


def test_200_uploads_20_clients_two_media_workers(scenario, broker, make_user):
    s = scenario(f"load: {UPLOADS} uploads, {CLIENTS} clients, 2 media workers")
    media_workers = []
    for _ in range(2):
        w = WorkerProcess(
            queues="media,default,notifications",
            concurrency=1,
            env={"CELERY_BROKER_URL": broker.url},
        )
        w.args = ["nice", "-n", "10", *w.args]
        media_workers.append(w.start())
        prioritise(10, w.pid)  # the worker's session: its pool processes included
    web = Web(broker.url)
    try:
        cookies = []
        for i in range(CLIENTS):
            c = Client()
            c.force_login(make_user(f"loader{i}"))
            token = _get_new_csrf_string()
            cookies.append((f"sessionid={c.cookies['sessionid'].value}; csrftoken={token}", token))
        photos = [photo(i) for i in range(8)]
        task_ids: list[str] = []
        errors: list[str] = []
        lock = threading.Lock()

        def client(n: int) -> None:
            # The load generator, like the workers, yields the CPU to the server it measures.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
            cookie, token = cookies[n]
            conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=30)
            mine = []
            for k in range(UPLOADS // CLIENTS):
                body, ctype = multipart("image", f"photo-{n}-{k}.jpg", photos[(n + k) % len(photos)])
                headers = {"Cookie": cookie, "X-CSRFToken": token, "Accept": "application/json"}
                conn.request("POST", "/media/upload/", body, {**headers, "Content-Type": ctype})
                response = conn.getresponse()
                payload = response.read()
                if response.status != 202:
                    with lock:
                        errors.append(f"upload {response.status}: {payload[:200]!r}")
                    continue
                mine.append(json.loads(payload)["task_id"])
            with lock:
                task_ids.extend(mine)
            pending = list(mine)
            deadline = time.monotonic() + 300
            while pending and time.monotonic() < deadline:
                wait_ms = 1000
                for task_id in list(pending):
                    conn.request(
                        "GET", f"/tasks/{task_id}/", headers={"Cookie": cookie, "Accept": "application/json"}
                    )
                    body = json.loads(conn.getresponse().read())
                    if body["poll_after_ms"] is None:
                        pending.remove(task_id)
                    else:
                        wait_ms = min(wait_ms, body["poll_after_ms"])
                time.sleep(wait_ms / 1000)  # as core/app.js does: honour poll_after_ms

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        started = time.monotonic()
        for t in threads:
            t.start()
        while not task_ids and any(t.is_alive() for t in threads):
            time.sleep(0.05)
        prober = Prober(web.port, cookies[0][0], task_ids[0])
        for t in threads:
            t.join()
        wall = time.monotonic() - started
        samples = prober.stop()
        uploads_done = max(
            j.created_at for j in Job.objects.filter(task_name="media_app.compress_image")
        ).timestamp()
    finally:
        web.stop()
        for w in media_workers:
            w.stop()
    assert not errors, errors[:5]
    s.task_ids = list(task_ids)
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
        prioritise(10, proc.pid)
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == 10
        with open(f"/proc/{proc.pid}/autogroup") as f:
            assert f.read().split()[-1] == "10"
    finally:
        proc.kill()
        proc.wait()
