"""The SQLite backend's writer wait (config/core/sqlite3): wakes soon after the lock is free, gives
up after the configured timeout, and never repeats a statement inside a transaction."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from config.core.sqlite3.base import DatabaseWrapper


def wrapper(path, timeout: float) -> DatabaseWrapper:
    settings = {
        "ENGINE": "config.core.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "timeout": timeout,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        },
        "ATOMIC_REQUESTS": False,
        "AUTOCOMMIT": True,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "TIME_ZONE": None,
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "TEST": {},
    }
    return DatabaseWrapper(settings, alias=f"t{id(settings)}")


@pytest.fixture(autouse=True)
def _own_connections(django_db_blocker):
    # These connections are the test's own, to a file of its own, not the test database.
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def db_file(tmp_path):
    path = tmp_path / "lock.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (n INTEGER)")
    conn.commit()
    conn.close()
    return path


def hold_write_lock(path, seconds: float) -> threading.Thread:
    """Another connection takes the write lock and keeps it for ``seconds``."""
    taken = threading.Event()

    def run():
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (1)")
        taken.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    t = threading.Thread(target=run)
    t.start()
    taken.wait(5)
    return t


def test_a_waiting_writer_goes_ahead_right_after_the_lock_is_released(db_file):
    db = wrapper(db_file, timeout=10)
    holder = hold_write_lock(db_file, 0.3)
    started = time.monotonic()
    with db.cursor() as cursor:
        cursor.execute("INSERT INTO t VALUES (%s)", [2])
    waited = time.monotonic() - started
    holder.join()
    # It waited for the holder, and did not sleep on past its release (SQLite's own handler can
    # oversleep by up to 100 ms); a generous bound, this is not a timing test.
    assert 0.2 < waited < 2.0
    with db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM t")
        assert cursor.fetchone()[0] == 2  # each insert exactly once
    db.close()


def test_begin_immediate_waits_too_and_the_transaction_commits_once(db_file):
    db = wrapper(db_file, timeout=10)
    holder = hold_write_lock(db_file, 0.2)
    db.ensure_connection()
    with _atomic(db):
        with db.cursor() as cursor:
            cursor.execute("INSERT INTO t VALUES (3)")
    holder.join()
    with db.cursor() as cursor:
        cursor.execute("SELECT n FROM t ORDER BY n")
        assert [r[0] for r in cursor.fetchall()] == [1, 3]
    db.close()


class _atomic:
    """BEGIN IMMEDIATE … COMMIT through the wrapper, as transaction.atomic does."""

    def __init__(self, db: DatabaseWrapper) -> None:
        self.db = db

    def __enter__(self):
        self.db._start_transaction_under_autocommit()

    def __exit__(self, exc_type, *exc):
        (self.db.connection.rollback if exc_type else self.db.connection.commit)()


def test_it_gives_up_after_the_configured_timeout_with_sqlites_own_error(db_file):
    db = wrapper(db_file, timeout=0.2)
    holder = hold_write_lock(db_file, 1.5)
    started = time.monotonic()
    with pytest.raises(Exception, match="database is locked"):
        with db.cursor() as cursor:
            cursor.execute("INSERT INTO t VALUES (4)")
    assert time.monotonic() - started < 1.4
    holder.join()
    db.close()


def test_other_errors_are_not_retried(db_file):
    db = wrapper(db_file, timeout=10)
    with pytest.raises(Exception, match="no such table"):
        with db.cursor() as cursor:
            cursor.execute("INSERT INTO missing VALUES (1)")
    db.close()
