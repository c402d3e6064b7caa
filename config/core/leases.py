"""One execution of a job at a time, even when the broker delivers its message twice.

Redis redelivers a message that is still being worked on when a worker's connection is cut (kombu
restores the unacknowledged messages of the lost channel) or when a task outlives the visibility
timeout. Without a guard the second delivery runs beside the first and does the work twice.

An execution holds a lease in Redis named after its task id, valued "<host>:<pid>:<token>", for the
task's hard time limit plus a margin. A second delivery that finds the lease held by a live
process waits; one that finds its holder dead (same host, pid gone: a killed pool process or
worker) takes it over. A holder on another host is presumed alive until the lease expires.

The margin is short on purpose: an execution can't outlive its hard time limit (its worker's main
process kills it), so past limit + margin a lease guards nothing, and it must lapse before the
visibility timeout (set above the longest time limit) brings back the message of a host that is
gone for good, or that lease, not the broker, decides when the job is taken over.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid

from config.core import redis as shared_redis

logger = logging.getLogger(__name__)

PREFIX = "job:lease:"
# Beyond the hard limit: the kill (within a second) and the outcome's write.
MARGIN_SECONDS = 10
HOST = socket.gethostname()


def _alive(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    if host != HOST:
        return True  # cannot look at another machine's processes: wait for the lease to expire
    pid = int(rest.partition(":")[0] or 0)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process not yet reaped is a zombie: dead for our purpose
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return True


def acquire(task_id: str, seconds: float) -> str | None:
    """Take the lease of ``task_id``: its token, or None if a live execution holds it.

    If Redis cannot be reached the execution goes ahead (the token is ""): a worker that just got
    the message from Redis should rarely see that, and refusing would strand the job.
    """
    me = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    ttl = int(seconds + MARGIN_SECONDS)
    name = PREFIX + task_id
    try:
        if shared_redis.set_new(name, me, ttl):
            return me
        holder = shared_redis.get(name)
        if holder is None:
            return me if shared_redis.set_new(name, me, ttl) else None
        if _alive(holder):
            return None
        if shared_redis.swap_if(name, holder, me, ttl):
            logger.info("job %s: took over the lease of %s, which is no longer running", task_id, holder)
            return me
        return None
    except Exception as exc:
        logger.warning("job %s: lease unavailable (%s); running without it", task_id, exc)
        return ""


def release(task_id: str, token: str | None) -> None:
    if not token:
        return
    try:
        shared_redis.delete_if(PREFIX + task_id, token)
    except Exception as exc:  # it expires on its own
        logger.warning("job %s: could not release its lease (%s)", task_id, exc)
