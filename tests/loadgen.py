"""Issue 8's load scenario, shared by its test (tests/reliability/test_load.py) and `make bench`.

Clients upload photos over HTTP back to back, then poll their jobs until each is final, honouring
`poll_after_ms` as core/app.js does. A probe process of its own times status requests meanwhile,
one at a time, from sending the request to reading the whole answer. Django-free: both callers
hand it the port, the session cookies and where to write.

The web server, the workers and the load generator share one machine's CPUs here; in production
they run apart. So the callers run the workers and the client threads at a lower priority (nice
10) and the web server and the probe at a higher one (nice -5, where allowed), sessions included
(see `prioritise`): the figure is the web path's, not that of a CPU fight a real deployment does
not have.
"""

from __future__ import annotations

import http.client
import io
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
import zlib
from pathlib import Path

from PIL import Image as PILImage

PROBE_INTERVAL = 0.02  # seconds between two probe requests


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
    on machines of their own. A preexec_fn: runs in the child, after it started its own session."""
    prioritise(-5)


def worker_priority() -> None:
    """The workers' side of `web_priority` (a preexec_fn too; pool processes inherit it)."""
    prioritise(10)


def photo(seed: int) -> bytes:
    """A 1024 x 768 JPEG of about 100 kB, a pixel different per seed."""
    image = PILImage.linear_gradient("L").resize((1024, 768)).convert("RGB")
    image.putpixel((seed % 1024, seed % 768), (seed % 255, 0, 0))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


# Every upload of the process gets bytes of its own (see distinct).
UPLOAD_SEQ = itertools.count(1)


def distinct(data: bytes, tag: str) -> bytes:
    """The same picture in bytes of its own (a JPEG comment or a PNG text chunk holding ``tag``),
    so an upload is fresh work: the same bytes again by the same owner would reuse the first
    upload's renditions and run no worker (media_app.services.image_upload)."""
    note = f"backroom {tag}".encode()
    if data.startswith(b"\xff\xd8"):
        return data[:2] + b"\xff\xfe" + (len(note) + 2).to_bytes(2, "big") + note + data[2:]
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        body = b"Comment\x00" + note
        chunk = len(body).to_bytes(4, "big") + b"tEXt" + body + zlib.crc32(b"tEXt" + body).to_bytes(4, "big")
        end_of_ihdr = 8 + 8 + int.from_bytes(data[8:12], "big") + 4
        return data[:end_of_ihdr] + chunk + data[end_of_ihdr:]
    raise ValueError("distinct() knows JPEG and PNG")


def multipart(
    field: str, filename: str, content: bytes, content_type: str = "image/jpeg"
) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


PROBE_SCRIPT = """
import http.client, json, os, sys, time
port, cookie, out, stop, interval, *paths = sys.argv[1:]
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
samples = {path: [] for path in paths}
n = 0
while not os.path.exists(stop):
    path = paths[n % len(paths)]
    n += 1
    started = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie, "Accept": "application/json"})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        sys.exit(f"probe: GET {path} answered {response.status}")
    samples[path].append((time.time(), (time.perf_counter() - started) * 1000))
    time.sleep(float(interval))
json.dump(samples, open(out, "w"))
"""


class Prober:
    """Times GET requests from a process of its own, in a session of its own at the web server's
    priority, so the figure is the server's answer time, not the load generator's scheduling.
    With several paths it asks for each in turn, so all are measured at the same moments."""

    def __init__(self, port: int, cookie: str, paths: list[str], base: Path) -> None:
        self.paths = paths
        self.out, self.stop_file = base.with_suffix(".json"), base.with_suffix(".stop")
        argv = [sys.executable, "-c", PROBE_SCRIPT, str(port), cookie, str(self.out), str(self.stop_file)]
        self.proc = subprocess.Popen(
            [*argv, str(PROBE_INTERVAL), *paths],
            preexec_fn=web_priority,
            start_new_session=True,
        )

    def stop(self) -> dict[str, list[tuple[float, float]]]:
        """Per path, (wall-clock time, milliseconds) of every request."""
        self.stop_file.touch()
        try:
            if self.proc.wait(30) != 0:
                raise RuntimeError(f"the probe failed (exit {self.proc.returncode})")
            return json.loads(self.out.read_text())
        finally:
            self.out.unlink(missing_ok=True)
            self.stop_file.unlink(missing_ok=True)


class Clients:
    """One thread per (cookie, CSRF token): uploads `uploads_each` photos back to back over one
    keep-alive connection, then polls its jobs until each is final."""

    def __init__(self, port: int, cookies: list[tuple[str, str]], uploads_each: int, photos: list[bytes]):
        self.port, self.cookies, self.uploads_each, self.photos = port, cookies, uploads_each, photos
        self.task_ids: list[str] = []
        self._mine: list[list[str]] = [[] for _ in cookies]
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(n,)) for n in range(len(cookies))]

    def start(self) -> Clients:
        self.started = time.monotonic()
        for t in self._threads:
            t.start()
        return self

    def first_task_id(self, client: int = 0) -> str:
        """The task id of `client`'s first upload (only its own cookie may ask for it), once known."""
        while not self._mine[client] and self._threads[client].is_alive():
            time.sleep(0.05)
        if not self._mine[client]:
            raise RuntimeError(f"client {client}'s uploads failed: {self.errors[:3]}")
        return self._mine[client][0]

    def join(self) -> float:
        """Wait until every client saw all its jobs final; the seconds since `start`."""
        for t in self._threads:
            t.join()
        return time.monotonic() - self.started

    def _client(self, n: int) -> None:
        # The load generator, like the workers, yields the CPU to the server it measures.
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        cookie, token = self.cookies[n]
        headers = {"Cookie": cookie, "X-CSRFToken": token, "Accept": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        pending = []
        try:
            for k in range(self.uploads_each):
                content = distinct(self.photos[(n + k) % len(self.photos)], f"upload {next(UPLOAD_SEQ)}")
                body, ctype = multipart("image", f"photo-{n}-{k}.jpg", content)
                conn.request("POST", "/media/upload/", body, {**headers, "Content-Type": ctype})
                response = conn.getresponse()
                payload = response.read()
                if response.status != 202:
                    with self._lock:
                        self.errors.append(f"upload {response.status}: {payload[:200]!r}")
                    continue
                task_id = json.loads(payload)["task_id"]
                pending.append(task_id)
                self._mine[n].append(task_id)
                with self._lock:
                    self.task_ids.append(task_id)
            deadline = time.monotonic() + 300
            while pending and time.monotonic() < deadline:
                wait_ms = 1000
                for task_id in list(pending):
                    conn.request("GET", f"/tasks/{task_id}/", headers=headers)
                    body = json.loads(conn.getresponse().read())
                    if body["poll_after_ms"] is None:
                        pending.remove(task_id)
                    else:
                        wait_ms = min(wait_ms, body["poll_after_ms"])
                time.sleep(wait_ms / 1000)
            if pending:
                with self._lock:
                    self.errors.append(f"{len(pending)} job(s) not final after 300 s")
        except (OSError, ValueError, KeyError) as exc:
            with self._lock:
                self.errors.append(f"client {n}: {exc!r}")
        finally:
            conn.close()
