"""The base class of every Backroom task (``Celery(task_cls=...)``).

It keeps the job row in step with the execution: STARTED when it begins, PROGRESS on request,
and it refuses to run a job that is already final or that has crashed its worker too often.
RETRY, SUCCESS and FAILURE are written by the result backend (config.core.backends), because only
the backend is called on every path, including a hard time limit handled by the parent process.
"""

from __future__ import annotations

import time

from celery.contrib.django.task import DjangoTask
from celery.exceptions import Ignore
from django.conf import settings

from .errors import MESSAGE_CRASHED, HumanError


class JobAttemptsExhausted(HumanError):
    pass


class JobTask(DjangoTask):
    abstract = True
    # Every Backroom task stores its outcome; the job row is updated from the backend.
    ignore_result = False
    _progress_at = 0.0

    def __call__(self, *args, **kwargs):
        from . import services

        task_id = self.request.id
        if task_id is None or self.request.is_eager:
            return super().__call__(*args, **kwargs)
        decision, job = services.job_start(task_id=task_id, task_name=self.name)
        if decision == services.StartDecision.SKIP:
            # A late duplicate of a finished job: leave its result and its row as they are.
            raise Ignore()
        if decision == services.StartDecision.GIVE_UP:
            raise JobAttemptsExhausted(MESSAGE_CRASHED.format(n=job.interrupted))
        self._progress_at = 0.0
        return super().__call__(*args, **kwargs)

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # Celery calls this on every final failure, including in the worker's main process after
        # a hard time limit, where none of the task's own code runs.
        from .errors import human_message

        try:
            self.settle_failure(human_message(exc), task_id, *args, **kwargs)
        finally:
            super().on_failure(exc, task_id, args, kwargs, einfo)

    def settle_failure(self, message: str, task_id: str, *args, **kwargs) -> None:
        """Override to mark the task's business row failed (the job row is settled already)."""

    def progress(self, current: int, total: int, *, force: bool = False) -> None:
        """Report progress, at most a few times a second (every call is a database write)."""
        from . import services

        now = time.monotonic()
        if not force and current < total and now - self._progress_at < 0.25:
            return
        self._progress_at = now
        if self.request.id:
            services.job_progress(task_id=self.request.id, current=current, total=total)

    @staticmethod
    def backoff(retries: int) -> int:
        """Exponential backoff with full jitter, capped below the broker's visibility timeout."""
        import random

        return int(random.uniform(0, min(settings.BACKROOM_MAX_COUNTDOWN, 2 ** (retries + 1))))
