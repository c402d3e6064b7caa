"""Round-trip checks of the parts a request or a job depends on."""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache
from django.db import connection

from config.celery_app import app

from . import redis as shared_redis

BEAT_HEARTBEAT_KEY = "beat:last_tick"
BEAT_STALE_AFTER = 120  # seconds; beat ticks at least every CELERY_BEAT_MAX_LOOP_INTERVAL


def _timed(check) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = check()
        status = "ok"
    except Exception as exc:  # any failure is "down"; the kind goes in the body, not a traceback
        detail, status = type(exc).__name__, "down"
    result = {"status": status, "ms": round((time.perf_counter() - started) * 1000, 1)}
    if detail:
        result["detail"] = detail
    return result


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker():
    # One try: a frozen broker still accepts the TCP connection, and each further try would cost
    # the probe another socket timeout (SOCKET_TIMEOUT, as every other client of the broker).
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=0)
        _ = conn.default_channel  # opens a channel: a real round trip, not just a TCP connect


def check_beat():
    last = cache.get(BEAT_HEARTBEAT_KEY)
    if last is None:
        raise RuntimeError("no heartbeat")
    # Both times are Redis's (beat writes shared_redis.now()): beat's host and this one may disagree.
    age = shared_redis.now() - float(last)
    if age > BEAT_STALE_AFTER:
        raise RuntimeError(f"last tick {int(age)} s ago")
    return f"last tick {int(age)} s ago"


def health() -> dict[str, dict[str, Any]]:
    """Each part within its socket timeouts: about 2 x SOCKET_TIMEOUT when Redis, the broker's
    and the heartbeat's, stops answering."""
    return {
        "database": _timed(check_database),
        "broker": _timed(check_broker),
        "beat": _timed(check_beat),
    }
