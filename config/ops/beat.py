"""django-celery-beat's DatabaseScheduler, run by one beat at a time.

Several beats may be started by mistake; only the one holding the Redis lease sends anything. The
lease is renewed on every tick and expires on its own if its holder dies, so a standby takes over.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

from django.core.cache import cache
from django_celery_beat.schedulers import DatabaseScheduler

from config.core.health import BEAT_HEARTBEAT_KEY

logger = logging.getLogger(__name__)
LEASE_KEY = "beat:leader"
LEASE_SECONDS = 30


class LeaderDatabaseScheduler(DatabaseScheduler):
    def __init__(self, *args, **kwargs):
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.is_leader = False
        super().__init__(*args, **kwargs)

    def _hold_lease(self) -> bool:
        client = cache._cache.get_client(LEASE_KEY, write=True)
        key = cache.make_and_validate_key(LEASE_KEY)
        if client.set(key, self.identity, nx=True, ex=LEASE_SECONDS):
            return True
        current = client.get(key)
        if current is not None and current.decode() == self.identity:
            client.expire(key, LEASE_SECONDS)
            return True
        return False

    def tick(self, *args, **kwargs):
        try:
            leader = self._hold_lease()
        except Exception as exc:  # Redis down: do not send; another beat cannot either
            logger.warning("beat lease unavailable: %s", exc)
            return 5.0
        if leader != self.is_leader:
            logger.info("beat %s %s the lease", self.identity, "took" if leader else "lost")
            self.is_leader = leader
        if not leader:
            return 5.0
        cache.set(BEAT_HEARTBEAT_KEY, time.time(), timeout=None)
        return super().tick(*args, **kwargs)
