"""Exceptions that decide how a failed job is retried and what its owner is told."""

from billiard.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded, WorkerLostError


class HumanError(Exception):
    """A permanent failure whose message is safe and useful to show the owner. Never retried."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransientError(Exception):
    """A failure that may pass (storage I/O, a remote 4xx): retried with backoff and jitter.

    ``retry_after`` (seconds), when the failure knows how long it lasts, replaces the backoff for
    ``@task`` functions (config/core/tasks.py).
    """

    def __init__(self, *args, retry_after: float | None = None) -> None:
        super().__init__(*args)
        self.retry_after = retry_after


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
    if isinstance(exc, HumanError):
        return exc.message[:500]
    if isinstance(exc, (TimeLimitExceeded, SoftTimeLimitExceeded)):
        return MESSAGE_TIMEOUT
    if isinstance(exc, WorkerLostError):
        return MESSAGE_LOST
    return MESSAGE_GENERIC


# Failures that may pass on another run: the worker or a service it needs was at fault, not the
# input. Every other stored message is a HumanError's (the input itself: a broken file stays broken).
RETRYABLE_MESSAGES = {
    MESSAGE_TIMEOUT,
    MESSAGE_LOST,
    MESSAGE_STORAGE_UNAVAILABLE,
    MESSAGE_GENERIC,
    MESSAGE_BROKER_DOWN,
}
_RETRYABLE_PREFIXES = [MESSAGE_CRASHED.split("{n}")[0]]


def register_retryable(message: str) -> None:
    """An app's own message for a failure that is not the input's fault (storage down …)."""
    RETRYABLE_MESSAGES.add(message)


def why_not_retryable(error: str) -> str | None:
    """None if a failed job with this stored message may pass next time; else why it would not."""
    if error in RETRYABLE_MESSAGES or any(error.startswith(p) for p in _RETRYABLE_PREFIXES):
        return None
    if not error:
        return None  # no reason recorded: nothing says it would fail again
    return (
        "the input itself was refused (a broken file stays broken), so the same job would fail the "
        "same way; ask the owner for a new file instead"
    )
