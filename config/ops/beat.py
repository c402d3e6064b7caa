"""django-celery-beat's DatabaseScheduler, run by one beat at a time.

Several beats may be started by mistake; only the one holding the Redis lease sends anything. The
lease is renewed on every tick and expires on its own if its holder dies, so a standby takes over.

Three more habits keep a takeover from sending a run twice:

- the leader writes ``last_run_at`` to the database after every send (not every 3 minutes), and a
  beat that takes the lease reloads the schedule from the database before its first send;
- every message carries the slot it fills (``backroom_slot``: the periodic task's name and the
  previous run it follows), which config.ops.periodic claims once in Redis: two beats that both
  believe they lead still produce one run;
- every message expires when the next run of its schedule is due, so runs missed while workers were
  away do not pile up. The deadline is on Redis's clock (``backroom_expires``, checked by JobTask
  when the message runs), not Celery's ``expires``: Celery makes that absolute on beat's clock and
  compares it with the worker's, so a worker minutes ahead would drop every run of a short period.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import uuid

from celery.utils.time import maybe_make_aware
from django.core.cache import cache
from django_celery_beat.schedulers import DatabaseScheduler

from config.core import redis as shared_redis
from config.core.health import BEAT_HEARTBEAT_KEY
from config.core.jobtask import EXPIRES_HEADER

logger = logging.getLogger(__name__)
LEASE_KEY = "beat:leader"
LEASE_SECONDS = 30
STANDBY_SLEEP = 5.0
SLOT_HEADER = "backroom_slot"


def slot_for(name: str, last_run_at: datetime.datetime) -> str:
    """The run of ``name`` that follows the one at ``last_run_at``; the same on every beat."""
    when = maybe_make_aware(last_run_at).astimezone(datetime.UTC)
    return f"{name}@{when.isoformat()}"


class LeaderDatabaseScheduler(DatabaseScheduler):
    def __init__(self, *args, **kwargs):
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.is_leader = False
        kwargs.setdefault("sync_every_tasks", 1)
        super().__init__(*args, **kwargs)

    def _hold_lease(self) -> bool:
        # Renew only a lease we still hold: GET then EXPIRE in two calls could extend someone else's.
        return shared_redis.set_new(LEASE_KEY, self.identity, LEASE_SECONDS) or shared_redis.expire_if(
            LEASE_KEY, self.identity, LEASE_SECONDS
        )

    def _reload(self) -> None:
        """Read every entry afresh, as a leader that just took over must (its copy may be old)."""
        self._schedule = self.all_as_schedule()
        self._heap = None

    def tick(self, *args, **kwargs):
        try:
            leader = self._hold_lease()
        except Exception as exc:  # Redis down: do not send; another beat cannot either
            logger.warning("beat lease unavailable: %s", exc)
            self.is_leader = False
            return STANDBY_SLEEP
        if leader != self.is_leader:
            logger.info("beat %s %s the lease", self.identity, "took" if leader else "lost")
            self.is_leader = leader
            if leader:
                self._reload()
        if not leader:
            return STANDBY_SLEEP
        # Redis's clock, as /healthz reads it (config.core.health.check_beat): not this host's.
        cache.set(BEAT_HEARTBEAT_KEY, shared_redis.now(), timeout=None)
        return super().tick(*args, **kwargs)

    def apply_entry(self, entry, producer=None):
        entry.options = self._message_options(entry)
        return super().apply_entry(entry, producer=producer)

    def _message_options(self, entry) -> dict:
        options = dict(entry.options)
        headers = dict(options.get("headers") or {})
        headers[SLOT_HEADER] = slot_for(entry.name, entry.last_run_at)
        options["headers"] = headers
        try:
            until_next = entry.schedule.remaining_estimate(entry.default_now()).total_seconds()
        except Exception:  # a schedule that cannot say (solar at the poles): keep the row's expiry
            logger.debug("no next run for %s", entry.name, exc_info=True)
            return options
        cap = max(1.0, until_next)
        expires = options.pop("expires", None)
        if isinstance(expires, datetime.datetime):
            expires = (maybe_make_aware(expires) - maybe_make_aware(entry.default_now())).total_seconds()
        seconds = cap if expires is None else max(1.0, min(float(expires), cap))
        headers[EXPIRES_HEADER] = round(shared_redis.now() + seconds, 3)
        return options

    def close(self):
        super().close()
        if self.is_leader:
            # Hand over at once rather than after LEASE_SECONDS (a deploy restarts beat).
            try:
                shared_redis.delete_if(LEASE_KEY, self.identity)
            except Exception as exc:
                logger.warning("could not release the beat lease: %s", exc)
