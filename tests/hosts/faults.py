"""Faults across hosts (issue 20, item 3), run after tests/hosts/scenarios.py on the same fleet.

Each scenario returns its figures ({"scenario", "jobs", "faults", "lost", "duplicated", "seconds",
...}) or raises; a job counts as lost when it did not end SUCCESS, as duplicated when it ran (or
left files) more than once.
"""

from __future__ import annotations

import datetime
import itertools
import json
import shlex
import sys
import time
from collections import Counter

from config.core.errors import MESSAGE_BROKER_DOWN, MESSAGE_STORAGE_UNAVAILABLE
from tests.hosts.client import WebClient
from tests.hosts.fleet import ROOT, Fleet, run
from tests.hosts.scenarios import PASSWORD, RESTORE_LOCK, RESTORE_LOCK_SECONDS
from tests.testdata import TESTDATA

PHOTO = TESTDATA / "images" / "photos" / "Landscape_6.jpg"
# Its renditions: 4 widths and the square, AVIF for all but the 2048 slot.
PHOTO_RENDITIONS = 14
# config.ops.beat: the lease, a standby's sleep, and beat's longest tick (CELERY_BEAT_MAX_LOOP_INTERVAL).
BEAT_LEASE_SECONDS = 30
BEAT_STANDBY_SLEEP = 5
BEAT_MAX_LOOP = 5
REDISPATCH_EVERY = 10  # scenarios.setup
# A message held by a host that is gone is back in its queue within this long (Fleet.app_env:
# CELERY_VISIBILITY_TIMEOUT 70 and CELERY_UNACKED_RESTORE_INTERVAL 1, each sweep runs), a left-behind
# sweeps' lock included.
TAKEOVER_BOUND = 70 + 1 + RESTORE_LOCK_SECONDS
UPLOAD_503_WITHIN = 2.0
HEALTHZ_WITHIN = 3.0


def _client(fleet: Fleet) -> WebClient:
    client = WebClient(fleet["web"].ip)
    client.login("alice", PASSWORD)
    return client


def _jobs_since(fleet: Fleet, since: datetime.datetime, kind: str) -> list[tuple]:
    return fleet.sql(
        "SELECT task_id, state, attempts, sent_at IS NOT NULL FROM core_job "
        "WHERE kind = %s AND created_at >= %s ORDER BY id",
        (kind, since),
    )


def _db_now(fleet: Fleet) -> datetime.datetime:
    [(now,)] = fleet.sql("SELECT now()")
    return now


def _wait_jobs_final(fleet: Fleet, task_ids: list[str], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = dict(fleet.sql("SELECT task_id, state FROM core_job WHERE task_id = ANY(%s)", (task_ids,)))
        if len(states) == len(task_ids) and all(s in ("SUCCESS", "FAILURE") for s in states.values()):
            return states
        time.sleep(0.5)
    raise AssertionError(f"jobs not final after {timeout}s: {Counter(states.values())}")


def _rendition_sets(fleet: Fleet, task_ids: list[str]) -> dict[int, int]:
    """Renditions in the bucket per image of these jobs (14 = one set)."""
    rows = fleet.sql(
        "SELECT i.id, i.owner_id FROM media_app_image i JOIN core_job j ON j.id = i.job_id "
        "WHERE j.task_id = ANY(%s)",
        (task_ids,),
    )
    return {image: len(fleet.s3_keys(f"media/renditions/{owner}/{image}/")) for image, owner in rows}


def _media_figures(fleet: Fleet, task_ids: list[str]) -> dict:
    states = dict(fleet.sql("SELECT task_id, state FROM core_job WHERE task_id = ANY(%s)", (task_ids,)))
    sets = _rendition_sets(fleet, task_ids)
    return {
        "jobs": len(task_ids),
        "lost": sum(1 for t in task_ids if states.get(t) != "SUCCESS"),
        "duplicated": sum(max(0, n - PHOTO_RENDITIONS) for n in sets.values()),
        "images_without_renditions": sum(1 for n in sets.values() if n == 0),
    }


# --- a. the web host loses the broker ---------------------------------------------------------


def _broker_lost(fleet: Fleet, client: WebClient, how: str, photo: bytes) -> dict:
    web = fleet["web"]
    # Uploads that reach the broker first: the web processes hold live broker connections when
    # the fault begins (a black hole then swallows a publish on an open socket, not a connect).
    for n in range(4):
        status, body = client.upload(f"before-{how}-{n}.jpg", photo, timeout=30)
        assert status == 202, (how, status, body)
    web.block(6379, how=how, peer=fleet.services_ip)
    uploads, health = [], []
    try:
        for n in range(3):
            t0 = time.monotonic()
            status, body = client.upload(f"{how}-{n}.jpg", photo, timeout=30)
            uploads.append(time.monotonic() - t0)
            assert status == 503, (how, status, body)
            assert body.get("error") == MESSAGE_BROKER_DOWN, body
        for _ in range(2):
            t0 = time.monotonic()
            status, _, data = client.request("GET", "/healthz", timeout=30)
            health.append(time.monotonic() - t0)
            assert status == 503, (how, status, data[:300])
            body = json.loads(data)
            assert "broker" in body["down"] and body["broker"]["status"] == "down", body
    finally:
        web.unblock()
    return {
        f"{how}_upload_seconds_max": round(max(uploads), 3),
        f"{how}_healthz_seconds_max": round(max(health), 3),
        f"{how}_uploads": len(uploads),
    }


def web_loses_broker(fleet: Fleet) -> dict:
    """The web host loses Redis, first refused (a reset), then black-holed (packets dropped):
    uploads answer 503 within 2 s, /healthz within 3 s naming the broker; the saved jobs run
    once the link is back."""
    client = _client(fleet)
    photo = PHOTO.read_bytes()
    since = _db_now(fleet)
    figures: dict = {"scenario": "web_loses_broker", "faults": 2}
    for how in ("reject", "drop"):
        figures.update(_broker_lost(fleet, client, how, photo))
    # Each 503 saved its job (the fast host may have re-sent the first ones already).
    saved = _jobs_since(fleet, since, "media.compress")
    assert len(saved) == 2 * (4 + 3), saved
    t0 = time.monotonic()
    task_ids = [t for t, *_ in saved]
    _wait_jobs_final(fleet, task_ids, timeout=90)
    figures["saved_jobs_ran_after_seconds"] = round(time.monotonic() - t0, 2)
    figures.update(_media_figures(fleet, task_ids))
    attempts = [a for (a,) in fleet.sql("SELECT attempts FROM core_job WHERE task_id = ANY(%s)", (task_ids,))]
    figures["duplicated"] += sum(1 for a in attempts if a != 1)
    for bound, key in ((UPLOAD_503_WITHIN, "upload_seconds_max"), (HEALTHZ_WITHIN, "healthz_seconds_max")):
        for how in ("reject", "drop"):
            assert figures[f"{how}_{key}"] <= bound, (how, key, figures)
    assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
    return figures


# --- b. the leading beat host cut off ---------------------------------------------------------


def _lease_holder(fleet: Fleet) -> str | None:
    value = fleet.redis().get("backroom:1:beat:leader")
    return value.decode().split(":", 1)[0] if value else None


def _redispatch_runs(fleet: Fleet, since: datetime.datetime) -> list[dict]:
    """Every ops.redispatch that ran (not the ones skipped as a duplicate of their slot), with the
    slot it claimed (config.ops.periodic keeps slot -> task id in Redis)."""
    redis = fleet.redis()
    [(name,)] = fleet.sql("SELECT name FROM django_celery_beat_periodictask WHERE task = 'ops.redispatch'")
    slots = {}
    for key in redis.scan_iter(f"backroom:1:ops:slot:{name}@*", count=1000):
        slots[redis.get(key).decode()] = key.decode().split("@", 1)[1]
    rows = fleet.sql(
        "SELECT task_id, state, result, started_at FROM core_job WHERE task_name = 'ops.redispatch' "
        "AND created_at >= %s ORDER BY started_at",
        (since,),
    )
    runs = []
    for task_id, state, result, _started_at in rows:
        skipped = result.get("skipped") if isinstance(result, dict) else None
        runs.append({"task_id": task_id, "state": state, "skipped": skipped, "slot": slots.get(task_id)})
    return runs


def leading_beat_cut_off(fleet: Fleet) -> dict:
    """The beat host holding the lease loses its cable: the standby takes the lease once it runs
    out (the lease time plus one standby sleep), and every period of the re-dispatcher (every
    10 s) runs exactly once: counted in runs, since a message sent twice at the takeover is
    dropped at run time by its slot (config/ops/periodic.py)."""
    deadline = time.monotonic() + 20
    while (leader := _lease_holder(fleet)) is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert leader in ("beat1", "beat2"), leader
    standby = "beat2" if leader == "beat1" else "beat1"
    since = _db_now(fleet)
    # One run of the leader's first, so the chain of slots starts before the cut.
    deadline = time.monotonic() + 3 * REDISPATCH_EVERY
    while not [r for r in _redispatch_runs(fleet, since) if r["state"] == "SUCCESS"]:
        assert time.monotonic() < deadline, "no ops.redispatch run before the cut"
        time.sleep(0.5)
    fleet[leader].cut()
    cut_at = time.monotonic()
    try:
        deadline = cut_at + BEAT_LEASE_SECONDS + BEAT_STANDBY_SLEEP + BEAT_MAX_LOOP + 5
        while _lease_holder(fleet) != standby:
            assert time.monotonic() < deadline, f"{standby} did not take the lease"
            time.sleep(0.2)
        takeover_s = time.monotonic() - cut_at
        # Three periods under the new leader.
        time.sleep(3 * REDISPATCH_EVERY + 2)
    finally:
        fleet[leader].restore()
    # The old leader is back: it finds the lease taken and stays a standby.
    time.sleep(BEAT_STANDBY_SLEEP + BEAT_MAX_LOOP + 2)
    assert _lease_holder(fleet) == standby
    time.sleep(3)  # the last message sent runs
    runs = _redispatch_runs(fleet, since)
    ran = [r for r in runs if r["state"] == "SUCCESS" and not r["skipped"]]
    per_slot = Counter(r["slot"] for r in ran)
    assert None not in per_slot, runs  # a beat message always carries its slot
    slot_times = [datetime.datetime.fromisoformat(s) for s in sorted(per_slot)]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(slot_times)]
    # A period is skipped if two consecutive slots lie further apart than a period plus the
    # takeover; sent twice (beyond what the slot claim absorbs) if they lie closer than a period.
    longest_allowed = REDISPATCH_EVERY + BEAT_LEASE_SECONDS + BEAT_STANDBY_SLEEP + BEAT_MAX_LOOP + 1
    skipped = sum(1 for g in gaps if g > longest_allowed)
    doubled = sum(n - 1 for n in per_slot.values()) + sum(1 for g in gaps if g < REDISPATCH_EVERY - 1)
    figures = {
        "scenario": "leading_beat_cut_off",
        "jobs": len(ran),
        "faults": 1,
        "lost": skipped,
        "duplicated": doubled,
        "leader": leader,
        "takeover_seconds": round(takeover_s, 2),
        # The lease runs out at most LEASE_SECONDS after the cut; the standby looks every
        # STANDBY_SLEEP seconds.
        "takeover_bound_seconds": BEAT_LEASE_SECONDS + BEAT_STANDBY_SLEEP,
        "lease_seconds": BEAT_LEASE_SECONDS,
        "period_seconds": REDISPATCH_EVERY,
        "messages": len(runs),
        "messages_skipped": dict(Counter(r["skipped"] for r in runs if r["skipped"])),
        "longest_gap_seconds": round(max(gaps), 2) if gaps else None,
        "shortest_gap_seconds": round(min(gaps), 2) if gaps else None,
    }
    assert len(ran) >= 4, figures
    assert takeover_s <= BEAT_LEASE_SECONDS + BEAT_STANDBY_SLEEP + 2, figures
    assert skipped == 0 and doubled == 0, figures
    return figures


# --- c. the media host gone for good ----------------------------------------------------------


def media_host_gone_for_good(fleet: Fleet) -> dict:
    """A second media host runs; the first loses its cable for good while it compresses (its
    worker is killed behind the cut): the job it held comes back after the visibility timeout
    and the second host finishes it, and every other one.

    The held job is taken over within TAKEOVER_BOUND of the cut: its message is back in the queue
    once the visibility timeout has passed and the next sweep runs (or, if a host cut off mid-sweep
    left the sweeps' lock behind, once that lock has lapsed); the dead host's job lease (hard limit
    + 10 s, config/core/leases.py) has lapsed by then, so media2 runs it at once."""
    media, media2 = fleet["media"], fleet["media2"]
    worker2 = media2.procfile("worker_media")
    worker2.wait_log(" ready.", timeout=90)
    client = _client(fleet)
    photo = PHOTO.read_bytes()
    task_ids = []
    for n in range(4):
        status, body = client.upload(f"gone-{n}.jpg", photo)
        assert status == 202, (status, body)
        task_ids.append(body["task_id"])
    # Wait until the first media host holds one of them (its log names the task it received).
    deadline = time.monotonic() + 60
    held = None
    while held is None:
        assert time.monotonic() < deadline, "the first media host received none of the jobs"
        log = media.procs[0].log_text()
        running = dict(fleet.sql("SELECT task_id, state FROM core_job WHERE task_id = ANY(%s)", (task_ids,)))
        held = next((t for t in task_ids if f"[{t}] received" in log and running[t] != "SUCCESS"), None)
        time.sleep(0.05)
    media.cut()
    cut_at = time.monotonic()
    lock_ttl_at_cut = fleet.redis().pttl(RESTORE_LOCK)
    # The machine is gone: nothing of it comes back, even if the cable did.
    for proc in media.procs:
        proc.stop(sig=9)
    # When the second execution of the held job begins (its attempts go up), then all final.
    restarted_s = None
    deadline = cut_at + TAKEOVER_BOUND + 60  # the bound, then the compressions that follow
    while restarted_s is None and time.monotonic() < deadline:
        [(attempts,)] = fleet.sql("SELECT attempts FROM core_job WHERE task_id = %s", (held,))
        if attempts > 1:
            restarted_s = time.monotonic() - cut_at
        time.sleep(0.2)
    assert restarted_s is not None, f"{held} did not start again within {TAKEOVER_BOUND + 60}s of the cut"
    _wait_jobs_final(fleet, task_ids, timeout=max(1.0, deadline - time.monotonic()))
    figures = {
        "scenario": "media_host_gone_for_good",
        "faults": 1,
        **_media_figures(fleet, task_ids),
        "held_by_the_lost_host": 1,
        "held_job_restarted_after_seconds": round(restarted_s, 2) if restarted_s else None,
        "takeover_bound_seconds": TAKEOVER_BOUND,
        "restore_lock_ttl_at_cut_ms": lock_ttl_at_cut,
        "taken_over_after_seconds": round(time.monotonic() - cut_at, 2),
    }
    [(attempts, worker)] = fleet.sql(
        "SELECT j.attempts, r.worker FROM core_job j LEFT JOIN django_celery_results_taskresult r "
        "ON r.task_id = j.task_id WHERE j.task_id = %s",
        (held,),
    )
    figures["held_job_attempts"], figures["held_job_finished_on"] = attempts, worker
    assert worker and worker.startswith("media@media2"), figures
    assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
    return figures


# --- d. the object store unreachable ----------------------------------------------------------

STORE_OUTAGE_SECONDS = 20
# What an upload writes (periodic jobs write core_job rows of their own meanwhile).
ROW_COUNTS = (
    "SELECT (SELECT count(*) FROM media_app_image), (SELECT count(*) FROM media_app_uploadbatch),"
    " (SELECT count(*) FROM core_job WHERE kind = 'media.compress')"
)


def _wait_state(fleet: Fleet, task_id: str, leaving: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        [(state,)] = fleet.sql("SELECT state FROM core_job WHERE task_id = %s", (task_id,))
        if state != leaving or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def object_store_unreachable(fleet: Fleet) -> dict:
    """The object store drops every packet for 20 s while photos compress and an export builds:
    their storage errors retry with backoff and every job finishes; an upload meanwhile answers
    a clear 503 and leaves no row."""
    client = _client(fleet)
    photo = PHOTO.read_bytes()
    task_ids = []
    for n in range(3):
        status, body = client.upload(f"store-{n}.jpg", photo)
        assert status == 202, (status, body)
        task_ids.append(body["task_id"])
    code, asked = client.post_form("/reports/exports/", {"kind": "job_history"})
    assert code == 202, (code, asked)
    export_task = asked["task_id"]
    state_when_cut = _wait_state(fleet, task_ids[0], "QUEUED", timeout=30)
    services = fleet["services"]
    services.block(9000, how="drop", hook="input")
    cut_at = time.monotonic()
    try:
        rows_before = fleet.sql(ROW_COUNTS)
        t0 = time.monotonic()
        status, body = client.upload("during-outage.jpg", photo, timeout=60)
        upload_s = time.monotonic() - t0
        rows_after = fleet.sql(ROW_COUNTS)
        assert status == 503 and body.get("error") == MESSAGE_STORAGE_UNAVAILABLE, (status, body)
        assert rows_after == rows_before, (rows_before, rows_after)
        time.sleep(max(0.0, STORE_OUTAGE_SECONDS - (time.monotonic() - cut_at)))
    finally:
        services.unblock()
    all_ids = [*task_ids, export_task]
    _wait_jobs_final(fleet, all_ids, timeout=150)
    figures = {"scenario": "object_store_unreachable", "faults": 1, **_media_figures(fleet, task_ids)}
    [(export_state, export_file)] = fleet.sql(
        "SELECT j.state, e.file FROM reports_export e JOIN core_job j ON j.task_id = %s WHERE e.id = %s",
        (export_task, asked["export_id"]),
    )
    figures["jobs"] += 1
    figures["lost"] += export_state != "SUCCESS" or fleet.s3_keys(export_file) != [export_file]
    attempts = dict(fleet.sql("SELECT task_id, attempts FROM core_job WHERE task_id = ANY(%s)", (all_ids,)))
    figures.update(
        {
            "outage_seconds": STORE_OUTAGE_SECONDS,
            "first_job_state_when_cut": state_when_cut,
            "executions_per_job": [attempts[t] for t in all_ids],
            "upload_during_outage_status": status,
            "upload_during_outage_seconds": round(upload_s, 3),
            "all_finished_after_cut_seconds": round(time.monotonic() - cut_at, 2),
        }
    )
    assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
    assert max(attempts.values()) > 1, figures  # the outage was met, and retried
    return figures


# --- g. the PostgreSQL host restarted under load ---------------------------------------------


def postgres_restarted_under_load(fleet: Fleet) -> dict:
    """PostgreSQL is restarted (a fast shutdown, then started again) while photos are uploaded and
    compressed and their status polled: every accepted upload ends SUCCESS, once, and no request
    answers 500 meanwhile (503 with Retry-After while the database is away)."""
    import threading

    client = _client(fleet)
    photo = PHOTO.read_bytes()
    accepted: list[str] = []
    answers: Counter = Counter()
    polls: Counter = Counter()
    stop = threading.Event()

    def load() -> None:
        n = 0
        while not stop.is_set() and n < 200:
            n += 1
            try:
                status, body = client.upload(f"pg-{n}.jpg", photo, timeout=20)
            except OSError as exc:
                answers[type(exc).__name__] += 1
                continue
            answers[status] += 1
            if status == 202:
                accepted.append(body["task_id"])
                code, _ = client.get_json(body["status_url"])
                polls[code] += 1
            time.sleep(0.3)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    try:
        time.sleep(3)
        t0 = time.monotonic()
        fleet.restart_postgres()
        down_s = time.monotonic() - t0
        time.sleep(5)
    finally:
        stop.set()
        worker.join(30)
    _wait_jobs_final(fleet, accepted, timeout=150)
    figures = {
        "scenario": "postgres_restarted_under_load",
        "faults": 1,
        **_media_figures(fleet, accepted),
        "restart_seconds": round(down_s, 2),
        "upload_answers": {str(k): v for k, v in answers.items()},
        "status_answers": {str(k): v for k, v in polls.items()},
    }
    assert figures["jobs"] >= 5, figures
    assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
    # While the database is away a request answers 503 with Retry-After (never a 500), or succeeds.
    assert set(answers) <= {202, 503} and set(polls) <= {200, 503}, figures
    return figures


# --- h. the database black-holed mid-query -----------------------------------------------------

DB_DROP_SCRIPT = """
import os, socket, subprocess, sys, time, django
django.setup()
from django.db import OperationalError, connection
connection.ensure_connection()
# Only this connection's packets vanish: the host's worker keeps its database meanwhile.
port = socket.socket(fileno=os.dup(connection.connection.pgconn.socket)).getsockname()[1]
rule = "add table inet bkdb\\n"
rule += "add chain inet bkdb output { type filter hook output priority 0; policy accept; }\\n"
rule += "add rule inet bkdb output ip daddr %s tcp dport 5432 tcp sport %d drop\\n"
subprocess.run(["nft", "-f", "-"], input=rule % (sys.argv[1], port), text=True, check=True)
t0 = time.monotonic()
try:
    connection.cursor().execute("SELECT 1")
    print("answered", round(time.monotonic() - t0, 2))
except OperationalError as exc:
    print(repr(exc)[:300].replace(chr(10), " "))
    print("OperationalError", round(time.monotonic() - t0, 2))
finally:
    subprocess.run(["nft", "delete", "table", "inet", "bkdb"], check=False)
"""
DB_TCP_USER_TIMEOUT = 5  # config/settings/base.py: tcp_user_timeout, in seconds


def database_black_holed_mid_query(fleet: Fleet) -> dict:
    """A process of a worker host (production settings) whose connection's packets to PostgreSQL
    vanish after it connected: its next query fails (OperationalError, which JobTask retries on a
    fresh connection) once TCP_USER_TIMEOUT has passed, instead of waiting on TCP's retransmissions
    (up to 15 minutes for a dead peer; 51 s after a 30 s cut)."""
    host = fleet["fast"]
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in fleet.app_env().items())
    try:
        script = f"cd {ROOT} && env {env} {sys.executable} - {fleet.services_ip}"
        done = host.sh(script, stdin=DB_DROP_SCRIPT, timeout=120)
    finally:  # the script's own rule, should it have been stopped before removing it
        run(["ip", "netns", "exec", host.ns, "nft", "delete", "table", "inet", "bkdb"], check=False)
    *said, last = done.stdout.strip().splitlines()
    outcome, seconds = last.split()
    figures = {
        "scenario": "database_black_holed_mid_query",
        "jobs": 0,
        "faults": 1,
        "lost": 0,
        "duplicated": 0,
        "query_outcome": outcome,
        "query_given_up_after_seconds": float(seconds),
        "tcp_user_timeout_seconds": DB_TCP_USER_TIMEOUT,
        "query_error": said[-1] if said else None,
    }
    assert outcome == "OperationalError", figures
    return figures


ALL = [
    web_loses_broker,
    leading_beat_cut_off,
    media_host_gone_for_good,
    object_store_unreachable,
    postgres_restarted_under_load,
    database_black_holed_mid_query,
]
