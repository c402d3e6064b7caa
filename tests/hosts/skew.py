"""Clocks and distance between hosts (issue 20, item 3), run after tests/hosts/faults.py.

clock_skew: the fast host's clock 5 minutes ahead and the reports host's 5 minutes behind
(libfaketime, LD_PRELOAD, so every process of the host, pool children too, has the skewed clock).

services_50ms_away: every app host reaches Redis, PostgreSQL and S3 through the harness's delaying
relay on the services host (tests/hosts/relay.py: this kernel has no netem), 50 ± 10 ms more on
each round trip; the same load runs first without it, so the figures stand side by side.
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections import Counter
from pathlib import Path

from tests.hosts.faults import PHOTO, REDISPATCH_EVERY, _client, _db_now, _media_figures, _wait_jobs_final
from tests.hosts.fleet import BIN, ROOT, Fleet, Host, Proc

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
    skewed_since = _db_now(fleet)
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
        # Messages dropped as expired by the host 5 minutes ahead: those sent once it was up count
        # (one sent while it restarted may rightly expire in the queue before it is back).
        dropped_ids = re.findall(
            r"\[([0-9a-f-]{36})\]: expired before it ran", _worker(fleet["fast"]).log_text()
        )
        sent_at = dict(
            fleet.sql("SELECT task_id, created_at FROM core_job WHERE task_id = ANY(%s)", (dropped_ids,))
        )
        dropped = sum(1 for t in dropped_ids if t not in sent_at or sent_at[t] >= skewed_since)
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
                "dropped_that_expired_while_it_restarted": len(dropped_ids) - dropped,
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


# --- the services 50 ms away ------------------------------------------------------------------

DELAY, JITTER = 0.050, 0.010
# Each service's port, and the relay's port beside it on the services host.
RELAYED = {"redis": (6379, 16379), "postgres": (5432, 15432), "s3": (9000, 19000)}
LOAD_UPLOADS = 6


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)], 3)


def _round_trips(fleet: Fleet, host: str, *, via_relay: bool) -> dict[str, float]:
    """Median round trip (ms) of 20 Redis PINGs and 20 PostgreSQL `SELECT 1`, measured inside a host."""
    s = fleet.services_ip
    redis_port = RELAYED["redis"][1 if via_relay else 0]
    pg_port = RELAYED["postgres"][1 if via_relay else 0]
    script = (
        "import statistics, time, redis, psycopg\n"
        f"r = redis.Redis(host='{s}', port={redis_port}, socket_timeout=5); r.ping()\n"
        f"c = psycopg.connect('postgresql://postgres@{s}:{pg_port}/postgres', connect_timeout=5)\n"
        "def rtt(f):\n"
        "    out = []\n"
        "    for _ in range(20):\n"
        "        t = time.perf_counter(); f(); out.append(time.perf_counter() - t)\n"
        "    return round(statistics.median(out) * 1000, 2)\n"
        "print(rtt(r.ping), rtt(lambda: c.execute('SELECT 1').fetchall()))\n"
    )
    done = fleet[host].sh(f"cd {ROOT} && {sys.executable} -", stdin=script)
    redis_ms, pg_ms = (float(x) for x in done.stdout.split())
    return {"redis": redis_ms, "postgres": pg_ms}


def _load(fleet: Fleet, label: str) -> dict:
    """LOAD_UPLOADS photos uploaded one after another, each job's status polled until all are
    final: upload and status p99 (seconds, as the client sees them) and jobs per minute."""
    client = _client(fleet)
    photo = PHOTO.read_bytes()
    uploads, polls, pending = [], [], {}
    t0 = time.monotonic()
    for n in range(LOAD_UPLOADS):
        t = time.monotonic()
        status, body = client.upload(f"{label}-{n}.jpg", photo)
        uploads.append(time.monotonic() - t)
        assert status == 202, (label, status, body)
        pending[body["task_id"]] = body["status_url"]
    task_ids = list(pending)
    deadline = time.monotonic() + 240
    while pending:
        assert time.monotonic() < deadline, f"{label}: {len(pending)} jobs not final after 240 s"
        for task_id, url in list(pending.items()):
            t = time.monotonic()
            code, body = client.get_json(url)
            polls.append(time.monotonic() - t)
            assert code == 200, (label, code, body)
            if body.get("state") in ("SUCCESS", "FAILURE"):
                del pending[task_id]
        time.sleep(0.2)
    seconds = time.monotonic() - t0
    status, _, _ = client.request("GET", "/healthz")
    return {
        "task_ids": task_ids,
        "upload_p99_seconds": _p99(uploads),
        "status_p99_seconds": _p99(polls),
        "status_polls": len(polls),
        "jobs_per_minute": round(LOAD_UPLOADS / seconds * 60, 1),
        "healthz": status,
    }


def services_50ms_away(fleet: Fleet) -> dict:
    """The same load with the services next door and 50 ± 10 ms away (every app process started
    again with its broker, database and S3 URLs on the relay): everything works, and the figures
    of both stand side by side, with the round trips measured from inside the web host."""
    services, s = fleet["services"], fleet.services_ip
    routes = [f"{s}:{relay}={s}:{port}" for port, relay in RELAYED.values()]
    relay = services.start(
        "relay",
        [str(BIN / "python"), "-m", "tests.hosts.relay", f"--delay={DELAY}", f"--jitter={JITTER}", *routes],
    )
    for _, port in RELAYED.values():
        fleet.wait_port(s, port, proc=relay, timeout=30)
    direct_rtt = _round_trips(fleet, "web", via_relay=False)
    delayed_rtt = _round_trips(fleet, "web", via_relay=True)
    direct = _load(fleet, "near")
    env = fleet.app_env()
    relayed_env = {
        "DATABASE_URL": env["DATABASE_URL"].replace(":5432/", f":{RELAYED['postgres'][1]}/"),
        "CELERY_BROKER_URL": env["CELERY_BROKER_URL"].replace(":6379/", f":{RELAYED['redis'][1]}/"),
        "AWS_S3_ENDPOINT_URL": env["AWS_S3_ENDPOINT_URL"].replace(":9000", f":{RELAYED['s3'][1]}"),
    }
    stopped_s = fleet.restart_apps(relayed_env)
    try:
        far = _load(fleet, "far")
        code, asked = _client(fleet).post_form("/reports/exports/", {"kind": "job_history"})
        assert code == 202, (code, asked)
        _wait_jobs_final(fleet, [asked["task_id"]], timeout=120)
        task_ids = [*direct["task_ids"], *far["task_ids"], asked["task_id"]]
        figures = {
            "scenario": "services_50ms_away",
            "faults": 1,
            **_media_figures(fleet, task_ids[:-1]),
            "delay_ms": f"{DELAY * 1000:.0f} ± {JITTER * 1000:.0f}",
            "round_trip_ms_from_web": {"near": direct_rtt, "far": delayed_rtt},
            # Every app process's warm shutdown, all at once, idle (the Procfile's workers, web, beats).
            "apps_stopped_in_seconds": round(stopped_s, 2),
        }
        [(export_state,)] = fleet.sql("SELECT state FROM core_job WHERE task_id = %s", (asked["task_id"],))
        figures["jobs"] += 1
        figures["lost"] += export_state != "SUCCESS"
        for key in ("upload_p99_seconds", "status_p99_seconds", "jobs_per_minute", "healthz"):
            figures[key] = {"near": direct[key], "far": far[key]}
        rows = fleet.sql("SELECT attempts FROM core_job WHERE task_id = ANY(%s)", (task_ids,))
        attempts = [a for (a,) in rows]
        figures["duplicated"] += sum(1 for a in attempts if a != 1)
    finally:
        fleet.restart_apps()
        relay.stop()
    assert all(ms >= 40 for ms in delayed_rtt.values()), figures
    assert figures["healthz"] == {"near": 200, "far": 200}, figures
    assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
    return figures


ALL = [clock_skew, services_50ms_away]
