"""One execution of a job at a time, even when the broker delivers its message twice.

Redis redelivers a message that is still being worked on when a worker's connection is cut (kombu
restores the unacknowledged messages of the lost channel) or when a task outlives the visibility
timeout. Without a guard the second delivery runs beside the first and does the work twice.

An execution holds a lease in Redis named after its task id, valued "<host>:<pid>:<token>", for the
task's hard time limit plus a margin. A second delivery that finds the lease held by a live
process waits; one that finds its holder dead (same host, pid gone: a killed pool process or
worker) takes it over. A holder on another host is presumed alive until the lease expires.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid

from django.core.cache import cache

logger = logging.getLogger(__name__)

PREFIX = "job:lease:"
MARGIN_SECONDS = 60
HOST = socket.gethostname()
# Replace the value only if it is still the one we read (another taker may have been first).
_SWAP = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3]) end"
)
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


_clients: dict[int, object] = {}


def _client_and_key(task_id: str):
    key = cache.make_and_validate_key(PREFIX + task_id)
    # One client per process (a pool child must not share its parent's sockets); building one per
    # call cost ~0.13 ms, twice per task.
    client = _clients.get(os.getpid())
    if client is None:
        client = _clients[os.getpid()] = cache._cache.get_client(key, write=True)
    return client, key


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
    try:
        client, key = _client_and_key(task_id)
        if client.set(key, me, nx=True, ex=ttl):
            return me
        holder = client.get(key)
        if holder is None:
            return me if client.set(key, me, nx=True, ex=ttl) else None
        holder = holder.decode()
        if _alive(holder):
            return None
        if client.eval(_SWAP, 1, key, holder, me, ttl):
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
        client, key = _client_and_key(task_id)
        client.eval(_RELEASE, 1, key, token)
    except Exception as exc:  # it expires on its own
        logger.warning("job %s: could not release its lease (%s)", task_id, exc)
