"""How a publish to the broker is retried when the broker does not take it.

A publish that fails fast (a connection the broker reset or refused: it restarted, or cut us off)
is retried at once on a new connection, which usually works. A publish that timed out is not: a
broker that lets a socket time out is frozen or unreachable (dropped packets), every further try
would cost the request another full timeout, and the job row waits QUEUED for job_redispatch
anyway. So a frozen broker costs a request one socket timeout (SOCKET_TIMEOUT), not one per try.
"""

from __future__ import annotations

import redis.exceptions

# socket.timeout is TimeoutError (py-amqp raises it); redis-py has its own.
TIMEOUTS = (TimeoutError, redis.exceptions.TimeoutError)


def give_up_on_timeout(exc: BaseException, interval: float) -> None:
    """The errback of CELERY_TASK_PUBLISH_RETRY_POLICY: kombu calls it before each retry."""
    if isinstance(exc, TIMEOUTS):
        raise exc
