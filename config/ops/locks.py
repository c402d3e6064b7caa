"""Redis locks for periodic jobs: one run at a time, and one run per scheduled period.

Both go through config.core.redis: REDIS_URL (also when the broker is RabbitMQ), with keys under
the cache's KEY_PREFIX.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from config.core import redis as shared_redis


def _claim(name: str, token: str, seconds: int) -> bool:
    """SET NX with expiry; also true if the key already holds our own token (a redelivery)."""
    return shared_redis.set_new(name, token, seconds) or shared_redis.get(name) == token


@contextmanager
def hold(name: str, *, token: str, timeout: int) -> Iterator[bool]:
    """Hold a lock for the body; yields False (and holds nothing) if someone else has it.

    The expiry is what frees the lock when its holder is killed (a hard time limit, a lost worker),
    so it should be a little longer than the longest run.
    """
    acquired = _claim(name, token, timeout)
    try:
        yield acquired
    finally:
        if acquired:
            # Only while it still holds our token: a holder that outlived its expiry must not
            # release the lock a later run took meanwhile.
            shared_redis.delete_if(name, token)


def claim_once(name: str, *, token: str, ttl: int) -> bool:
    """True the first time ``name`` is claimed (or again for the same token), false afterwards."""
    return _claim(name, token, ttl)


def holder(name: str) -> str | None:
    return shared_redis.get(name)
