"""The Procfile's web command as a real server for tests, and raw-socket HTTP for talking to it.

Raw sockets because the tests speak the way hostile or unusual clients do (a body that never
arrives, `Transfer-Encoding: chunked`), which http.client will not.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
from django.conf import settings

from config.core import devredis
from tests.harness import ROOT, child_env
from tests.procfile import procfile_command


class WebServer:
    """`web` from the Procfile on a free port of 127.0.0.1, in a session of its own, stopped by pid."""

    def __init__(self, *, env: dict[str, str] | None = None, **variables: str) -> None:
        self.port = devredis.free_port()
        self.processes = int(variables.get("WEB_CONCURRENCY") or os.environ.get("WEB_CONCURRENCY", "3"))
        argv = procfile_command("web", PORT=str(self.port), **variables)
        argv[argv.index("--bind") + 1] = f"127.0.0.1:{self.port}"
        self.argv = argv
        self.env = child_env(**(env or {}))
        self.log_path: Path = settings.VAR_DIR / f"test-{settings.BACKROOM_TEST_RUN}-web-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> WebServer:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the web server exited ({self.proc.returncode}); see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                conn.close()
                # Every worker process booted, not only the first (the Procfile's `env` execs the server).
                if len(psutil.Process(self.proc.pid).children()) >= self.processes:
                    return self
            except (OSError, psutil.Error):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the web server did not answer within {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def connect(port: int, timeout: float = 10) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(body: bytes, size: int):
    """`body` framed as HTTP/1.1 chunks of `size` bytes, then the last (empty) chunk."""
    for start in range(0, len(body), size):
        piece = body[start : start + size]
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.body[:200]!r}>"


def read_response(sock: socket.socket, timeout: float = 10) -> Response:
    """One whole response (Content-Length or until the server closes), within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    data = b""
    head_end = -1
    length = None
    while True:
        if head_end >= 0 and length is not None and len(data) >= head_end + 4 + length:
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no whole response within {timeout} s: {data[:200]!r}")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            if head_end < 0:
                raise ConnectionError(f"closed before a response: {data[:200]!r}")
            break
        data += chunk
        if head_end < 0 and (head_end := data.find(b"\r\n\r\n")) >= 0:
            for line in data[:head_end].split(b"\r\n")[1:]:
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
    status_line, *header_lines = data[:head_end].decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = data[head_end + 4 :]
    return Response(int(status_line.split()[1]), headers, body[:length] if length is not None else body)


def still_open(sock: socket.socket) -> bool:
    """True while the server has neither answered on nor closed this connection."""
    readable, _, _ = select.select([sock], [], [], 0)
    return not readable
