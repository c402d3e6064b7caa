"""SQLite whose waiting writers wake within a fraction of a millisecond of the lock coming free.

Web, workers and beat share one SQLite file, and SQLite has one write lock. A connection that finds
it taken calls SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, then
100 ms between tries, whatever the holder's remaining work (typically 0.2 ms). Measured with strace
on the fast worker (4 processes draining no-op jobs): its processes slept 13 s in those naps in a
6 s window, and the queue drained at 155-275 jobs/s.

Here the connection's own busy timeout is 0 and a statement that meets the lock is tried again after
0.1 ms, doubling to at most 2 ms, until the configured timeout (OPTIONS["timeout"]) has passed; then
it raises "database is locked" as before. Only statements that start outside a transaction are tried
again: BEGIN IMMEDIATE and autocommit statements, which SQLite rolls back whole when it answers BUSY,
so a retry cannot apply anything twice. Inside a BEGIN IMMEDIATE transaction the write lock is held
already and WAL readers never wait, so nothing there meets it. Without WAL (journal_mode could not
be set) SQLite's own handler stays in charge.
"""

from __future__ import annotations

import sqlite3
import time

from django.db.backends.sqlite3 import base

SQLITE_BUSY = 5
FIRST_PAUSE = 0.0001
LONGEST_PAUSE = 0.002


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF == SQLITE_BUSY


class SQLiteCursorWrapper(base.SQLiteCursorWrapper):
    busy_timeout: float | None = None

    def execute(self, query, params=None):
        return self._retrying(super().execute, query, params)

    def executemany(self, query, param_list):
        if self.busy_timeout is not None and not isinstance(param_list, (list, tuple)):
            param_list = list(param_list)  # a retry needs the parameters again
        return self._retrying(super().executemany, query, param_list)

    def _retrying(self, run, *args):
        if self.busy_timeout is None or self.connection.in_transaction:
            return run(*args)
        deadline = None
        pause = FIRST_PAUSE
        while True:
            try:
                return run(*args)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or self.connection.in_transaction:
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.busy_timeout
                if now >= deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE)


class DatabaseWrapper(base.DatabaseWrapper):
    _busy_timeout: float | None = None

    def get_new_connection(self, conn_params):
        # The PRAGMAs of init_command run under SQLite's own busy handler, then it is switched off.
        conn = super().get_new_connection(conn_params)
        self._busy_timeout = None
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
            self._busy_timeout = float(conn_params.get("timeout", 5.0))
            conn.execute("PRAGMA busy_timeout = 0")
        return conn

    def create_cursor(self, name=None):
        cursor = self.connection.cursor(factory=SQLiteCursorWrapper)
        cursor.busy_timeout = self._busy_timeout
        return cursor
