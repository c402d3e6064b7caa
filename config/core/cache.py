"""Django's Redis cache, with its connection pools kept per process instead of per cache object.

``django.core.cache.caches`` is context-local, and under ASGI every request runs in a context of
its own: each request built a new ``RedisCache``, whose client built a new ``ConnectionPool`` on
first use. So every request that touched the cache (an upload's rate counter, a login's) opened a
TCP connection to Redis, said HELLO on it before its first command and left the socket to the
garbage collector: a tenth of an upload's time on the web server (py-spy, issue 17). Here the pools
live in one dict per process, keyed by server and options, and requests share their connections as
redis-py's pool intends (it is thread-safe). The process id is part of the key: a forked child
builds pools of its own rather than share its parent's sockets.
"""

from __future__ import annotations

import os
import threading

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

_pools: dict[tuple, object] = {}
_lock = threading.Lock()


class SharedPoolClient(RedisCacheClient):
    def _get_connection_pool(self, write):
        index = self._get_connection_pool_index(write)
        server = self._servers[index]
        key = (os.getpid(), server, repr(sorted(self._pool_options.items())))
        pool = _pools.get(key)
        if pool is None:
            with _lock:
                pool = _pools.get(key)
                if pool is None:
                    pool = _pools[key] = self._pool_class.from_url(server, **self._pool_options)
        return pool


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedPoolClient
