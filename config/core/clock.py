"""The database's clock: the one every host shares for the times it writes to and compares in rows.

Hosts' own clocks drift (a worker minutes ahead or behind: tests/hosts' clock_skew scenario). A time
written by one host and compared by another (a job's started_at against the cleanup's cutoff, an
export's expires_at against the web host's "now") is therefore taken from the database: ``Now()``
inside the UPDATE, or :func:`db_now` read once where a Python value is needed. Times compared in
Redis use Redis's clock (config.core.redis.now).
"""

from __future__ import annotations

import datetime

from django.db import connection


def db_now() -> datetime.datetime:
    """The database's current time, timezone-aware (UTC)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT statement_timestamp()")
            return cursor.fetchone()[0]
        # SQLite is on this machine's own clock anyway (one file, one host); the same call as Now().
        cursor.execute("SELECT STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')")
        naive = datetime.datetime.fromisoformat(cursor.fetchone()[0])
        return naive.replace(tzinfo=datetime.UTC)
