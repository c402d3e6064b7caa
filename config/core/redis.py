"""The Redis client of leases and locks, and the scripts they share.

Job leases (config/core/leases.py), the beat lease (config/ops/beat.py) and the periodic locks
(config/ops/locks.py) all keep a token in a key and must touch the key only while it still holds
their token: a holder that outlived its expiry must not delete or extend what a later holder took.
Those compare-then-act steps are Lua scripts, so Redis runs each in one step.

One client per process, on REDIS_URL (the cache's Redis, also when the broker is RabbitMQ): a pool
child or a forked worker builds its own rather than share its parent's sockets. Keys go under the
cache's KEY_PREFIX (``key``), so two installs on one Redis keep apart, as their cache entries do.
Every socket gives up after SOCKET_TIMEOUT (a frozen Redis or dropped packets raise
``redis.TimeoutError`` in about that time instead of hanging), and nothing is retried inside
redis-py: each caller decides what a failed call means.
"""

from __future__ import annotations

import os
import threading

import redis
from django.conf import settings
from django.core.cache import cache

# KEYS[1] is deleted if it still holds ARGV[1].
_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""
# KEYS[1] gets ARGV[2] more seconds if it still holds ARGV[1].
_EXPIRE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
# KEYS[1] is set to ARGV[2] for ARGV[3] seconds if it still holds ARGV[1] (a takeover).
_SWAP_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) and 1
end
return 0
"""

_lock = threading.Lock()
_client: redis.Redis | None = None
_client_pid: int | None = None


def client() -> redis.Redis:
    """This process's client (built on first use, and again after a fork)."""
    global _client, _client_pid
    pid = os.getpid()
    if _client is None or _client_pid != pid:
        with _lock:
            if _client is None or _client_pid != pid:
                # Building one per call cost ~0.13 ms, twice per task: hence one per process.
                _client = redis.Redis.from_url(
                    settings.REDIS_URL,
                    socket_connect_timeout=settings.SOCKET_CONNECT_TIMEOUT,
                    socket_timeout=settings.SOCKET_TIMEOUT,
                    retry=None,
                )
                _client_pid = pid
    return _client


def key(name: str) -> str:
    """``name`` under the cache's key prefix and version, as the cache itself would store it."""
    return cache.make_and_validate_key(name)


def set_new(name: str, value: str, seconds: float) -> bool:
    """SET NX with an expiry of at least one second: true if the key was free and is now ours."""
    return bool(client().set(key(name), value, nx=True, ex=max(1, int(seconds))))


def get(name: str) -> str | None:
    value = client().get(key(name))
    return value.decode() if value is not None else None


def delete_if(name: str, token: str) -> bool:
    """Delete ``name`` if it still holds ``token``."""
    return bool(client().eval(_DELETE_IF, 1, key(name), token))


def expire_if(name: str, token: str, seconds: float) -> bool:
    """Extend ``name`` to ``seconds`` from now if it still holds ``token``."""
    return bool(client().eval(_EXPIRE_IF, 1, key(name), token, max(1, int(seconds))))


def swap_if(name: str, old: str, new: str, seconds: float) -> bool:
    """Replace ``name``'s value ``old`` by ``new`` (expiring in ``seconds``) if it still holds ``old``."""
    return bool(client().eval(_SWAP_IF, 1, key(name), old, new, max(1, int(seconds))))


def now() -> float:
    """Redis's clock (TIME), in seconds since the epoch: the one clock of everything that compares
    times written on different hosts in Redis (beat's heartbeat, the expiry of beat's messages)."""
    seconds, micros = client().time()
    return seconds + micros / 1_000_000
