"""Clocks and distance between hosts (issue 20, item 3), run after tests/hosts/faults.py.

clock_skew: the fast host's clock 5 minutes ahead and the reports host's 5 minutes behind
(libfaketime, LD_PRELOAD, so every process of the host, pool children too, has the skewed clock).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

from tests.hosts.faults import PHOTO, REDISPATCH_EVERY, _client, _db_now, _media_figures, _wait_jobs_final
from tests.hosts.fleet import ROOT, Fleet, Host, Proc

FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
SKEWS = {"fast": ("worker_fast", "+5m", 300), "reports": ("worker_reports", "-5m", -300)}
LINK_MAX_AGE = 24 * 3600  # REPORTS_LINK_MAX_AGE's default: the harness leaves it


def _worker(host: Host) -> Proc:
    [proc] = [p for p in host.procs if p.name.startswith("worker_") and p.alive()]
    return proc


def _restart_workers(fleet: Fleet, skewed: bool) -> None:
    """Stop the fast and reports workers (a warm shutdown) and start them again, under libfaketime
    or not; both at once, then wait for both."""
    started = []
    for name, (process, offset, _) in SKEWS.items():
        host = fleet[name]
        _worker(host).stop(timeout=40)
        env = {"LD_PRELOAD": str(FAKETIME), "FAKETIME": offset, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
        started.append(host.procfile(process, env=env if skewed else None))
    for proc in started:
        proc.wait_log(" ready.", timeout=90)


def _clock_minus_redis(fleet: Fleet, name: str) -> float:
    """The host's clock minus Redis TIME, read by a process of that host (libfaketime loaded)."""
    host = fleet[name]
    script = (
        f"import time, redis; r = redis.Redis(host='{fleet.services_ip}', port=6379, socket_timeout=5); "
        "s, us = r.time(); print(round(time.time() - (s + us / 1e6), 2))"
    )
    exports = f"LD_PRELOAD={FAKETIME} FAKETIME={SKEWS[name][1]}"
    done = host.sh(f'cd {ROOT} && env {exports} {sys.executable} -c "{script}"')
    return float(done.stdout.strip())


def _pool_skew(fleet: Fleet, task_ids: list[str]) -> list[float]:
    """The pool process's clock minus the database's, per job: TaskResult.date_done is written by
    the pool process on its own clock (auto_now), the job's finished_at by the database (Now()) in
    the same transaction. The database and Redis share the services host's clock."""
    rows = fleet.sql(
        "SELECT extract(epoch FROM r.date_done - j.finished_at) FROM core_job j JOIN "
        "django_celery_results_taskresult r ON r.task_id = j.task_id WHERE j.task_id = ANY(%s)",
        (task_ids,),
    )
    return [round(float(s), 2) for (s,) in rows]


def clock_skew(fleet: Fleet) -> dict:
    """The fast host (periodic jobs, the cleanup) 5 minutes ahead, the reports host 5 minutes
    behind: no job is failed as stuck early, the export's link lasts its full age, every period of
    the re-dispatcher (every 10 s, sent by beat on the true clock to the fast host) runs once."""
    if not FAKETIME.exists():
        raise AssertionError("libfaketime is not installed (Debian package faketime)")
    _restart_workers(fleet, skewed=True)
    figures: dict = {"scenario": "clock_skew", "faults": 2}
    try:
        for name in SKEWS:
            figures[f"{name}_clock_minus_redis_seconds"] = _clock_minus_redis(fleet, name)
        since = _db_now(fleet)
        client = _client(fleet)
        photo = PHOTO.read_bytes()
        task_ids = []
        for n in range(4):
            status, body = client.upload(f"skew-{n}.jpg", photo)
            assert status == 202, (status, body)
            task_ids.append(body["task_id"])
        code, asked = client.post_form("/reports/exports/", {"kind": "job_history"})
        assert code == 202, (code, asked)
        # The cleanup, on the host 5 minutes ahead, while a compression runs (started on the true clock).
        deadline = time.monotonic() + 30
        while not fleet.sql(
            "SELECT 1 FROM core_job WHERE task_id = ANY(%s) AND state = 'STARTED'", (task_ids,)
        ):
            assert time.monotonic() < deadline, "no compression started"
            time.sleep(0.05)
        cleanup = fleet.manage(
            "web", "shell", "-c", "from config.celery_app import app; print(app.send_task('ops.cleanup').id)"
        ).split()[-1]  # the id is the last line (the shell may log before it)
        _wait_jobs_final(fleet, [*task_ids, asked["task_id"], cleanup], timeout=120)
        figures.update(_media_figures(fleet, task_ids))
        figures["jobs"] += 1
        stuck = fleet.sql(
            "SELECT count(*) FROM core_job WHERE created_at >= %s AND error LIKE %s", (since, "%too long%")
        )[0][0]
        [(cleanup_state,)] = fleet.sql("SELECT state FROM core_job WHERE task_id = %s", (cleanup,))
        # Every job time is the database's: started between its creation and its end.
        [(bad_times,)] = fleet.sql(
            "SELECT count(*) FROM core_job WHERE task_id = ANY(%s) AND NOT (started_at >= created_at "
            "- interval '5 seconds' AND started_at <= finished_at AND finished_at <= now())",
            ([*task_ids, asked["task_id"]],),
        )
        code, export = client.get_json(f"/reports/exports/{asked['export_id']}/")
        assert code == 200 and export["state"] == "SUCCESS", export
        [(lasts, finished_ago)] = fleet.sql(
            "SELECT extract(epoch FROM expires_at - finished_at), extract(epoch FROM now() - finished_at) "
            "FROM reports_export WHERE id = %s",
            (asked["export_id"],),
        )
        code, _, content = client.request("GET", export["download_url"], headers={"Accept": "*/*"})
        assert code == 200 and content[:2] == b"PK", code
        # Beat's messages to the host 5 minutes ahead: count the periods that ran.
        window_since = _db_now(fleet)
        time.sleep(3 * REDISPATCH_EVERY + 3)
        runs = fleet.sql(
            "SELECT state, result FROM core_job WHERE task_name = 'ops.redispatch' AND started_at >= %s",
            (window_since,),
        )
        ran = [r for r in runs if r[0] == "SUCCESS" and not (r[1] or {}).get("skipped")]
        dropped = _worker(fleet["fast"]).log_text().count("expired before it ran")
        status, _, _ = client.request("GET", "/healthz")
        figures.update(
            {
                "pool_clock_minus_db_seconds": {
                    "fast": _pool_skew(fleet, [cleanup]),
                    "reports": _pool_skew(fleet, [asked["task_id"]]),
                },
                "failed_as_stuck": stuck,
                "cleanup_state": cleanup_state,
                "job_times_off_the_db_clock": bad_times,
                "export_link_lasts_seconds": round(float(lasts)),
                "export_finished_seconds_ago": round(float(finished_ago), 1),
                "redispatch_periods_in_33s": len(ran),
                "redispatch_messages": dict(Counter(r[0] for r in runs)),
                "beat_messages_dropped_as_expired": dropped,
                "healthz": status,
            }
        )
    finally:
        _restart_workers(fleet, skewed=False)
    for name, (_, _, seconds) in SKEWS.items():
        assert abs(figures[f"{name}_clock_minus_redis_seconds"] - seconds) < 5, figures
    for name, skews in figures["pool_clock_minus_db_seconds"].items():
        assert skews and all(abs(s - SKEWS[name][2]) < 5 for s in skews), figures
    assert stuck == 0 and cleanup_state == "SUCCESS" and bad_times == 0, figures
    assert figures["export_link_lasts_seconds"] == LINK_MAX_AGE, figures
    assert 0 <= figures["export_finished_seconds_ago"] < 120, figures
    assert len(ran) >= 3 and dropped == 0 and status == 200, figures
    assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
    return figures


ALL = [clock_skew]
