"""Redis locks for periodic jobs: one run at a time, and one run per scheduled period.

Both go through the Django cache's Redis client (the cache already points at REDIS_URL, also when
the broker is RabbitMQ), with keys under the cache's KEY_PREFIX.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache

# Delete the key only if it still holds our token: a holder that outlived its expiry must not
# release the lock a later run took meanwhile.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def _client_and_key(name: str):
    key = cache.make_and_validate_key(name)
    return cache._cache.get_client(key, write=True), key


def _claim(name: str, token: str, seconds: int) -> bool:
    """SET NX with expiry; also true if the key already holds our own token (a redelivery)."""
    client, key = _client_and_key(name)
    if client.set(key, token, nx=True, ex=max(1, int(seconds))):
        return True
    current = client.get(key)
    return current is not None and current.decode() == token


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
            client, key = _client_and_key(name)
            client.eval(_RELEASE, 1, key, token)


def claim_once(name: str, *, token: str, ttl: int) -> bool:
    """True the first time ``name`` is claimed (or again for the same token), false afterwards."""
    return _claim(name, token, ttl)


def holder(name: str) -> str | None:
    client, key = _client_and_key(name)
    value = client.get(key)
    return value.decode() if value is not None else None
