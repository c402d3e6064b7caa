"""The real processes a benchmark runs against: Redis, Procfile workers, gunicorn, bare Celery.

Web and worker command lines are read from the Procfile, so the benchmark measures what is
deployed. Every process is started in its own session and stopped by its own pid.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from tests.procfile import BIN, ROOT, procfile_command

BENCH_DIR = ROOT / "var" / "bench"
LOG_DIR = BENCH_DIR / "logs"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.bench"
    env["PYTHONUNBUFFERED"] = "1"
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.update(extra)
    return env


class Process:
    """A subprocess in its own session with its output in var/bench/logs/<label>.log."""

    def __init__(
        self, label: str, argv: list[str], env: dict[str, str] | None = None, preexec_fn=None
    ) -> None:
        self.label = label
        self.argv = argv
        self.env = env or child_env()
        self.preexec_fn = preexec_fn  # run in the child after it started its session (priority)
        self.log_path = LOG_DIR / f"{label}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Process:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=self.preexec_fn,
        )
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            tail = "\n".join(self.log_text().splitlines()[-20:])
            raise RuntimeError(f"{self.label} exited ({self.proc.returncode}):\n{tail}")

    def children(self) -> list:
        import psutil

        try:
            return psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop(self, timeout: float = 20) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left in its own process group (pool children) goes with it.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()


class Worker(Process):
    """A Celery worker started with the Procfile's flags for ``process``."""

    def __init__(
        self,
        process: str,
        *,
        name: str,
        app: str = "config",
        queues: str | None = None,
        concurrency: int | None = None,
        extra: list[str] = (),
        preexec_fn=None,
    ) -> None:
        argv = procfile_command(process)
        if concurrency is not None:
            argv[argv.index("--concurrency") + 1] = str(concurrency)
        argv[argv.index("-A") + 1] = app
        argv[argv.index("-n") + 1] = name
        if queues:
            argv[argv.index("-Q") + 1] = queues
        super().__init__(name.split("@")[0], [*argv, *extra], preexec_fn=preexec_fn)
        self.name = name

    def start(self, timeout: float = 90) -> Worker:
        super().start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if re.search(rb"@\S+ ready\.", self.log_path.read_bytes()):
                return self
            time.sleep(0.1)
        raise RuntimeError(f"{self.label} not ready after {timeout}s; see {self.log_path}")

    def pool_children(self) -> list:
        return self.children()


class Web(Process):
    """The web server as the Procfile runs it (gunicorn, uvicorn workers), on a free port of 127.0.0.1."""

    def __init__(self, port: int, label: str = "web", preexec_fn=None, **variables: str) -> None:
        """``variables`` fill the Procfile's ${VAR:-default}s (WEB_CONCURRENCY=...)."""
        argv = procfile_command("web", PORT=str(port), **variables)
        argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
        super().__init__(label, argv, preexec_fn=preexec_fn)
        self.port = port
        self.processes = int(variables.get("WEB_CONCURRENCY") or os.environ.get("WEB_CONCURRENCY", "3"))

    def start(self, timeout: float = 60) -> Web:
        super().start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                conn.close()
                # Every gunicorn worker must have booted, not only the first.
                if len(self.children()) >= self.processes:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not answering after {timeout}s; see {self.log_path}")


def vm_hwm_kb(pid: int) -> int:
    """The kernel's peak resident set size of a process (VmHWM), in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def vm_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def reset_hwm(pid: int) -> bool:
    """Reset a process's VmHWM to its current RSS (Linux: write 5 to /proc/<pid>/clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()
