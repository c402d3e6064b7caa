"""The base class of every Backroom task (``Celery(task_cls=...)``).

It keeps the job row in step with the execution: STARTED when it begins, PROGRESS on request,
and it refuses to run a job that is already final (a cancelled one too) or that has crashed its
worker too often. A cancelled job's execution ends quietly (Ignore): at a progress point, or when
the signal of a terminating revoke interrupts it (``cancel_terminates``).
RETRY, SUCCESS and FAILURE are written by the result backend (config.core.backends), because only
the backend is called on every path, including a hard time limit handled by the parent process.
"""

from __future__ import annotations

import logging
import random
import time

from celery.contrib.django.task import DjangoTask
from celery.exceptions import Ignore, Reject, Retry
from django import db
from django.conf import settings

from . import leases
from . import redis as shared_redis
from .errors import MESSAGE_CRASHED, HumanError, JobCancelled

logger = logging.getLogger(__name__)
# A delivery of a job that is running elsewhere comes back after this many seconds.
LEASE_RECHECK_SECONDS = 10
# A message that must not run after this time (seconds since the epoch, on Redis's clock): beat's
# stand-in for Celery's ``expires``, which is compared with the worker's own clock (config.ops.beat).
EXPIRES_HEADER = "backroom_expires"


class JobAttemptsExhausted(HumanError):
    pass


class JobTask(DjangoTask):
    abstract = True
    # Every Backroom task stores its outcome; the job row is updated from the backend.
    ignore_result = False
    # True for work that is safe to interrupt anywhere: a cancel then signals the running process
    # (SIGUSR1, raising SoftTimeLimitExceeded in the task) instead of waiting for a progress point.
    cancel_terminates = False
    _progress_at = 0.0

    def __call__(self, *args, **kwargs):
        from . import services  # noqa: PLC0415 - Celery imports task_cls by name; services needs the app registry

        task_id = self.request.id
        if task_id is None or self.request.is_eager:
            return super().__call__(*args, **kwargs)
        if self._expired():
            logger.info("%s[%s]: expired before it ran; dropped", self.name, task_id)
            raise Ignore()
        self._lease = leases.acquire(task_id, self._hard_limit())
        if self._lease is None:
            # This job is running right now elsewhere (Redis redelivered its message): look again
            # later, when it is final (skipped) or its holder has died (taken over), never run twice.
            self._look_again_later(args, kwargs)
            raise Ignore()
        try:
            try:
                decision, job = services.job_start(task_id=task_id, task_name=self.name)
                if decision == services.StartDecision.SKIP:
                    # A late duplicate of a finished job: leave its result and its row as they are.
                    raise Ignore()
                if decision == services.StartDecision.GIVE_UP:
                    raise JobAttemptsExhausted(MESSAGE_CRASHED.format(n=job.interrupted))
                self._progress_at = 0.0
                return super().__call__(*args, **kwargs)
            except JobCancelled:
                raise Ignore() from None
            except (Ignore, Reject):
                raise
            except (db.OperationalError, db.InterfaceError) as exc:
                # The database went away under the task (a restart, a failover, a lock timeout):
                # drop the dead connection and run the job again shortly, on a fresh one.
                db.connections.close_all()
                raise self.retry(exc=exc, countdown=self.backoff(self.request.retries)) from exc
            except Exception:
                # Whatever a cancelled job raised on its way out (the revoke's signal, a retry), its
                # outcome is written already: CANCELLED, with its business row settled.
                if services.job_is_cancelled(task_id=task_id):
                    raise Ignore() from None
                raise
        except (Ignore, Retry, Reject):
            # after_return is not called for these; SUCCESS and FAILURE release it there, once the
            # outcome is stored, so no redelivery can slip in between.
            leases.release(task_id, self._lease)
            raise

    def after_return(self, status, retval, task_id, args, kwargs, einfo):
        leases.release(task_id, getattr(self, "_lease", None))
        super().after_return(status, retval, task_id, args, kwargs, einfo)

    def retry(self, *args, **kwargs):
        """Celery's retry, except that a retry the broker refused does not drop the job.

        Celery answers an unpublishable retry with Reject(requeue=False): the message is dropped
        and the job is lost. A host cut off from the broker meets exactly that (tests/hosts), so
        the message is put back instead; if even that fails, it stays unacknowledged and Redis
        hands it out again after the visibility timeout.
        """
        try:
            return super().retry(*args, **kwargs)
        except Reject as exc:
            if exc.requeue:
                raise
            logger.warning("job %s: its retry could not be sent (%s); put back", self.request.id, exc.reason)
            raise Reject(exc.reason, requeue=True) from exc

    def _expired(self) -> bool:
        deadline = getattr(self.request, EXPIRES_HEADER, None)
        if deadline is None:
            return False
        try:
            return shared_redis.now() > float(deadline)
        except Exception as exc:  # Redis away: run it; the slot claim still stops a second run
            logger.warning("%s: could not read Redis's clock for its expiry: %s", self.name, exc)
            return False

    def _hard_limit(self) -> float:
        limits = [self.time_limit, self.app.conf.task_time_limit, *(self.request.timelimit or ())]
        return max([float(x) for x in limits if x] or [3600.0])

    def _look_again_later(self, args, kwargs) -> None:
        try:
            self.apply_async(
                args=args, kwargs=kwargs, task_id=self.request.id, countdown=LEASE_RECHECK_SECONDS
            )
        except Exception as exc:  # the running execution settles the job anyway
            logger.warning("job %s: could not re-queue a duplicate delivery: %s", self.request.id, exc)

    def settle_failure(self, message: str, task_id: str, *args, **kwargs) -> None:
        """Override to mark the task's business row failed.

        Called by the result backend (config.core.backends) inside the transaction that moves the
        job to FAILURE, on every path: an exception in the task, a hard time limit or a lost worker
        (both handled in the worker's main process, where none of the task's code runs).
        """

    def settle_cancel(self, task_id: str, *args, **kwargs) -> bool:
        """Override to mark the task's business row cancelled; return False if its work is done.

        Called inside the transaction that moves the job to CANCELLED (config.core.services.job_cancel,
        or the result backend for a revoke sent from elsewhere). False (an image already READY)
        refuses the cancel: the job stays as it was and the owner hears it has finished.
        """
        return True

    def progress(self, current: int, total: int, *, force: bool = False) -> None:
        """Report progress, at most a few times a second (every call is a database write).

        Also the cancel check: the write matches no row once the job is no longer running, and
        then a cancelled job raises :class:`JobCancelled`, which ends the execution quietly.
        """
        from . import services  # noqa: PLC0415 - Celery imports task_cls by name; services needs the app registry

        now = time.monotonic()
        if not force and current < total and now - self._progress_at < 0.25:
            return
        self._progress_at = now
        task_id = self.request.id
        if not task_id:
            return
        if services.job_cancel_requested(task_id=task_id):
            raise JobCancelled(task_id)
        if not services.job_progress(task_id=task_id, current=current, total=total):
            if services.job_is_cancelled(task_id=task_id):
                raise JobCancelled(task_id)

    @staticmethod
    def backoff(retries: int) -> int:
        """Exponential backoff with full jitter, capped below the broker's visibility timeout."""
        return int(random.uniform(0, min(settings.BACKROOM_MAX_COUNTDOWN, 2 ** (retries + 1))))
