"""Tasks that exist only for the test worker (loaded through CELERY_IMPORTS in test settings)."""

import os
import signal
import time

from celery import shared_task

from config.core.errors import HumanError


@shared_task(name="tests.echo", bind=True)
def echo(self, value=None):
    return {"value": value, "attempt": self.request.retries}


@shared_task(name="tests.sleep", bind=True)
def sleep(self, seconds: float = 1.0, steps: int = 4):
    for i in range(steps):
        time.sleep(seconds / steps)
        self.progress(i + 1, steps, force=True)
    return {"slept": seconds}


@shared_task(name="tests.crash")
def crash():
    """Kill its own process, as an out-of-memory kill or a segfault would."""
    os.kill(os.getpid(), signal.SIGKILL)


@shared_task(name="tests.fail")
def fail(message: str = "That file is not an image we can read."):
    raise HumanError(message)


@shared_task(name="tests.boom")
def boom():
    raise ValueError("secret internal detail /etc/passwd")


@shared_task(name="tests.too_long", soft_time_limit=1, time_limit=2)
def too_long(ignore_soft: bool = True):
    from celery.exceptions import SoftTimeLimitExceeded

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            time.sleep(0.1)
        except SoftTimeLimitExceeded:
            if not ignore_soft:
                raise


# --- Reliability suite (tests/reliability) ------------------------------------------------------


def _ledger_line(path: str, line: str) -> None:
    # One O_APPEND write per line: atomic for short lines, and durable whatever happens to Redis or
    # the database, so a test can count executions after any fault.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@shared_task(name="tests.ledger", bind=True)
def ledger(self, path: str, seconds: float = 0.0, steps: int = 1):
    """A task with a countable side effect: "start" when an execution begins, "done" when its work
    is complete. It sleeps in between (reporting progress) so a test can strike mid-task."""
    _ledger_line(path, f"start {self.request.id} {os.getpid()}")
    for i in range(steps):
        time.sleep(seconds / max(steps, 1))
        self.progress(i + 1, steps, force=True)
    _ledger_line(path, f"done {self.request.id} {os.getpid()}")
    return {"pid": os.getpid()}
