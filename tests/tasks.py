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
