"""Exceptions that decide how a failed job is retried and what its owner is told."""


class HumanError(Exception):
    """A permanent failure whose message is safe and useful to show the owner. Never retried."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransientError(Exception):
    """A failure that may pass (storage I/O, a remote 4xx): retried with backoff and jitter."""


class BrokerUnavailable(Exception):
    """The broker refused the message. The job row is kept QUEUED and re-sent later."""

    def __init__(self, job_ids: list[int]) -> None:
        super().__init__("The task queue is unavailable.")
        self.job_ids = job_ids


class StorageUnavailable(Exception):
    """The file storage did not answer a request's read or write: the answer is a 503."""


class JobCancelled(Exception):
    """Raised at a progress point of a job its owner cancelled: the execution ends quietly there."""


MESSAGE_CANCELLED = "Cancelled."
MESSAGE_TIMEOUT = "This job took too long and was stopped."
MESSAGE_CRASHED = "This job stopped its worker {n} times and was given up."
MESSAGE_LOST = "The worker running this job stopped unexpectedly."
MESSAGE_STORAGE_UNAVAILABLE = (
    "Our file storage is unavailable right now, so nothing was saved. Please try again in a minute."
)
MESSAGE_GENERIC = "Something went wrong while processing this job. We have logged the details."
MESSAGE_DATABASE_UNAVAILABLE = (
    "Our database is unavailable for a moment, so nothing was saved. Please try again in a few seconds."
)
MESSAGE_BROKER_DOWN = (
    "Saved. Our task queue is unavailable right now; the work will start as soon as it is back."
)


def human_message(exc: BaseException) -> str:
    """The sentence an owner sees for an exception. Tracebacks stay in the log."""
    from billiard.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded, WorkerLostError

    if isinstance(exc, HumanError):
        return exc.message[:500]
    if isinstance(exc, (TimeLimitExceeded, SoftTimeLimitExceeded)):
        return MESSAGE_TIMEOUT
    if isinstance(exc, WorkerLostError):
        return MESSAGE_LOST
    return MESSAGE_GENERIC
