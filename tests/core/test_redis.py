"""config.core.redis: the compare-then-act scripts touch a key only while it holds the caller's token,
on one client per process, under the cache's key prefix."""

from __future__ import annotations

import os

from django.core.cache import cache

from config.core import redis as shared_redis


def _fresh(name: str) -> str:
    shared_redis.client().delete(shared_redis.key(name))
    return name


def test_a_later_holder_is_neither_deleted_nor_extended_nor_swapped_by_an_earlier_one():
    name = _fresh("test:redis:token")
    assert shared_redis.set_new(name, "first", 30)
    assert not shared_redis.set_new(name, "second", 30)
    # The first holder outlived its expiry; a second took the key meanwhile.
    shared_redis.client().set(shared_redis.key(name), "second", ex=30)
    assert not shared_redis.delete_if(name, "first")
    assert not shared_redis.expire_if(name, "first", 600)
    assert not shared_redis.swap_if(name, "first", "third", 600)
    assert shared_redis.get(name) == "second"
    assert shared_redis.client().ttl(shared_redis.key(name)) <= 30

    assert shared_redis.expire_if(name, "second", 600)
    assert shared_redis.client().ttl(shared_redis.key(name)) > 30
    assert shared_redis.swap_if(name, "second", "third", 60)
    assert shared_redis.get(name) == "third" and 0 < shared_redis.client().ttl(shared_redis.key(name)) <= 60
    assert shared_redis.delete_if(name, "third")
    assert shared_redis.get(name) is None


def test_keys_are_the_caches_own_and_sockets_time_out(settings):
    name = _fresh("test:redis:prefix")
    assert shared_redis.key(name) == cache.make_and_validate_key(name)
    assert shared_redis.key(name).startswith(settings.CACHES["default"]["KEY_PREFIX"] + ":")
    kwargs = shared_redis.client().connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == settings.SOCKET_TIMEOUT
    assert kwargs["socket_connect_timeout"] == settings.SOCKET_CONNECT_TIMEOUT
    # No silent retry inside redis-py (its own default would multiply every timeout).
    assert shared_redis.client().connection_pool.make_connection().retry.get_retries() == 0


def test_one_client_per_process_and_a_forked_child_builds_its_own():
    parent = shared_redis.client()
    assert shared_redis.client() is parent
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it got a client of its own that works
        try:
            child = shared_redis.client()
            ok = child is not parent and child.ping() and shared_redis.client() is child
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1" and status == 0
    os.close(read)
    assert shared_redis.client() is parent and parent.ping()
