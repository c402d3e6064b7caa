"""The scenarios `make test-hosts` runs on the hosts, in order. Each returns its figures
({"scenario", "jobs", "faults", "lost", "duplicated", "seconds", ...}) or raises."""

from __future__ import annotations

import base64
import json
import time

from tests.hosts.client import WebClient
from tests.hosts.fleet import BIN, HOST_VAR_DIR, Fleet
from tests.testdata import TESTDATA

PASSWORD = "hosts-pass-123!"
# The renditions of an 1800 x 1200 photo: 4 widths and the square; AVIF for all but the 2048 slot.
PHOTO_RENDITIONS = 14
# kombu's lock that keeps the workers' sweeps for unacknowledged messages apart (its key in Redis,
# and unacked_mutex_expire in config/settings/base.py): a lock left behind lapses within this.
RESTORE_LOCK, RESTORE_LOCK_SECONDS = "unacked_mutex", 10


def _client(fleet: Fleet) -> WebClient:
    client = WebClient(fleet["web"].ip)
    client.login("alice", PASSWORD)
    return client


def setup(fleet: Fleet) -> None:
    """What every scenario needs: a user, and the re-dispatcher every 10 s (seeded at 60 s), as
    an admin may set it, so jobs saved while the broker was away are sent within seconds."""
    fleet.manage(
        "web",
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "from django_celery_beat.models import IntervalSchedule, PeriodicTask; "
        f"get_user_model().objects.create_user('alice', 'alice@example.com', {PASSWORD!r}); "
        "task = PeriodicTask.objects.get(task='ops.redispatch'); "
        "task.interval, _ = IntervalSchedule.objects.get_or_create(every=10, period='seconds'); "
        "task.save()",
    )


def separate_disks(fleet: Fleet) -> dict:
    """A file written in one host's temp dir or var dir is invisible from every other host."""
    names = [n for n in fleet.hosts if fleet[n].procs]
    for name in names:
        mark = f"bk-isolation-{name}"
        fleet[name].sh(f"echo {name} > /tmp/{mark} && echo {name} > {HOST_VAR_DIR}/{mark}")
        for other in names:
            seen = fleet[other].sh(f"test -e /tmp/{mark} || test -e {HOST_VAR_DIR}/{mark}", check=False)
            assert (seen.returncode == 0) == (other == name), f"{mark} seen from {other}: {seen.returncode}"
    return {
        "scenario": "separate_disks",
        "hosts": len(names),
        "jobs": 0,
        "faults": 0,
        "lost": 0,
        "duplicated": 0,
    }


def photo_and_export(fleet: Fleet) -> dict:
    """A photo uploaded over HTTP to the web host is compressed by the media host into S3 and shown;
    an export built by the reports host downloads."""
    client = _client(fleet)
    photo = (TESTDATA / "images" / "photos" / "Landscape_6.jpg").read_bytes()

    t0 = time.monotonic()
    status, body = client.upload("harbour.jpg", photo)
    upload_s = time.monotonic() - t0
    assert status == 202, (status, body)
    done = client.wait_task(body["status_url"], timeout=90)
    ready_s = time.monotonic() - t0
    assert done["state"] == "SUCCESS", done
    code, detail = client.get_json(f"/media/{body['image_id']}/")
    assert code == 200 and detail["state"] == "READY", detail
    [(original, worker)] = fleet.sql(
        "SELECT i.original, r.worker FROM media_app_image i JOIN core_job j ON j.id = i.job_id "
        "LEFT JOIN django_celery_results_taskresult r ON r.task_id = j.task_id WHERE i.id = %s",
        (body["image_id"],),
    )
    assert fleet.s3_keys(original) == [original]
    renditions = [
        f for (f,) in fleet.sql("SELECT file FROM media_app_rendition WHERE image_id = %s", (detail["id"],))
    ]
    assert len(renditions) == PHOTO_RENDITIONS and all(fleet.s3_keys(f) == [f] for f in renditions), (
        renditions
    )
    for r in detail["renditions"]:
        code, headers, content = client.request("GET", r["url"], headers={"Accept": "*/*"})
        assert code == 200 and len(content) == r["bytes"], (r, code)
        assert "location" not in headers
    stranger = WebClient(fleet["web"].ip)
    code, _, _ = stranger.request("GET", detail["renditions"][0]["url"])
    assert code in (302, 404), code  # anonymous: the login page or 404, never the file

    t1 = time.monotonic()
    code, asked = client.post_form("/reports/exports/", {"kind": "job_history"})
    assert code == 202, (code, asked)
    built = client.wait_task(asked["status_url"], timeout=120)
    export_s = time.monotonic() - t1
    assert built["state"] == "SUCCESS", built
    code, export = client.get_json(f"/reports/exports/{asked['export_id']}/")
    code, headers, content = client.request("GET", export["download_url"], headers={"Accept": "*/*"})
    assert code == 200 and len(content) == export["bytes"] and content[:2] == b"PK", code
    [(export_file,)] = fleet.sql("SELECT file FROM reports_export WHERE id = %s", (asked["export_id"],))
    assert fleet.s3_keys(export_file) == [export_file]

    jobs = fleet.sql(
        "SELECT state, attempts FROM core_job WHERE kind IN ('media.compress', 'reports.export')"
    )
    return {
        "scenario": "photo_and_export",
        "jobs": len(jobs),
        "faults": 0,
        "lost": sum(1 for state, _ in jobs if state != "SUCCESS"),
        "duplicated": sum(1 for _, attempts in jobs if attempts != 1) + (len(renditions) - PHOTO_RENDITIONS),
        "upload_seconds": round(upload_s, 3),
        "upload_to_ready_seconds": round(ready_s, 3),
        "export_seconds": round(export_s, 3),
        "compressed_on": worker,
    }


def media_host_cut_off_mid_compression(fleet: Fleet) -> dict:
    """The media host loses its cable for 30 s while it compresses: the job ends SUCCESS exactly
    once, with one set of renditions in the bucket."""
    client = _client(fleet)
    photo = (TESTDATA / "images" / "photos" / "Landscape_6.jpg").read_bytes()
    status, body = client.upload("cut.jpg", photo)
    assert status == 202, (status, body)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        [(state,)] = fleet.sql("SELECT state FROM core_job WHERE task_id = %s", (body["task_id"],))
        if state != "QUEUED":
            break
        time.sleep(0.02)
    fleet["media"].cut()
    cut_at = time.monotonic()
    try:
        time.sleep(30)
    finally:
        fleet["media"].restore()
    # The host was cut off mid-sweep, maybe: a command it gave up on can still reach Redis now, by
    # TCP retransmission (its SET of the sweeps' lock did, and held every sweep off for kombu's
    # 300 s). Watch the lock's time to live until the job is final and a few seconds have passed.
    redis, lock_ttl, finished_s = fleet.redis(), [], None
    restored_at = time.monotonic()
    deadline = restored_at + 150
    while finished_s is None or time.monotonic() - restored_at < 5:
        lock_ttl.append(redis.pttl(RESTORE_LOCK))
        if finished_s is None:
            code, done = client.get_json(body["status_url"])
            if code == 200 and done.get("state") in ("SUCCESS", "FAILURE"):
                finished_s = time.monotonic() - cut_at
        assert time.monotonic() < deadline, f"not final 150 s after the link came back: {done}"
        time.sleep(0.25)
    assert done["state"] == "SUCCESS", done
    [(attempts, image_id)] = fleet.sql(
        "SELECT j.attempts, i.id FROM core_job j JOIN media_app_image i ON i.job_id = j.id "
        "WHERE j.task_id = %s",
        (body["task_id"],),
    )
    rows = [f for (f,) in fleet.sql("SELECT file FROM media_app_rendition WHERE image_id = %s", (image_id,))]
    [(owner,)] = fleet.sql("SELECT owner_id FROM media_app_image WHERE id = %s", (image_id,))
    stored = fleet.s3_keys(f"media/renditions/{owner}/{image_id}/")
    assert len(rows) == PHOTO_RENDITIONS and sorted(rows) == stored, (rows, stored)
    assert max(lock_ttl) <= RESTORE_LOCK_SECONDS * 1000, lock_ttl
    return {
        "scenario": "media_host_cut_off_mid_compression",
        "jobs": 1,
        "faults": 1,
        "lost": 0,
        "duplicated": len(stored) - PHOTO_RENDITIONS,
        "state_when_cut": state,
        "attempts": attempts,
        "cut_seconds": 30,
        "finished_after_cut_seconds": round(finished_s, 2),
        # -2: no lock; else its time to live, never beyond the expiry the settings give it.
        "restore_lock_ttl_max_ms": max(lock_ttl),
    }


def _fleet_idle(fleet: Fleet, seconds: float = 5) -> dict:
    """What the fleet's settings cost the services while nothing is asked of it (the Procfile's
    gossip, mingle and events, the beats' ticks, the pools): Redis commands a second, and the
    connections Redis and PostgreSQL hold."""
    redis = fleet.redis()
    before = redis.info("stats")["total_commands_processed"]
    time.sleep(seconds)
    after = redis.info("stats")["total_commands_processed"]
    [(pg,)] = fleet.sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
    return {
        "idle_redis_commands_per_second": round((after - before - 1) / seconds, 1),
        "redis_connections": redis.info("clients")["connected_clients"] - 1,
        "postgres_connections": pg - 1,  # less the client's own
    }


FLOWER_PORT = 5555
FLOWER_USER, FLOWER_PASSWORD = "ops", "hosts-flower-pass"


def flower_lists_every_worker(fleet: Fleet) -> dict:
    """Flower (`celery -A config flower`), started on a host of its own against the fleet's
    broker, lists every worker in its API: the events and remote control it needs reach it."""
    import http.client

    host = fleet["beat2"]  # any host on the bridge: Flower needs only the broker
    argv = [
        str(BIN / "celery"), "-A", "config", "flower",
        f"--address={host.ip}", f"--port={FLOWER_PORT}", "--purge_offline_workers=60",
        f"--basic-auth={FLOWER_USER}:{FLOWER_PASSWORD}",  # its API refuses anonymous callers
    ]  # fmt: skip
    auth = base64.b64encode(f"{FLOWER_USER}:{FLOWER_PASSWORD}".encode()).decode()
    idle = _fleet_idle(fleet)
    proc = host.start("flower", argv, env=fleet.app_env())
    try:
        fleet.wait_port(host.ip, FLOWER_PORT, proc=proc, timeout=60)
        expected = {f"{name}@{name}" for name in ("media", "reports", "fast")}
        deadline = time.monotonic() + 30
        seen: set[str] = set()
        while time.monotonic() < deadline:
            conn = http.client.HTTPConnection(host.ip, FLOWER_PORT, timeout=10)
            try:
                conn.request("GET", "/api/workers?refresh=1", headers={"Authorization": f"Basic {auth}"})
                response = conn.getresponse()
                body = response.read()
            finally:
                conn.close()
            if response.status == 200:
                workers = json.loads(body)
                seen = {name for name, info in workers.items() if info}
                if expected <= seen:
                    break
            time.sleep(1)
        waited = round(time.monotonic() - (deadline - 30), 2)
    finally:
        proc.stop()
    assert expected <= seen, (expected, seen)
    return {
        "scenario": "flower_lists_every_worker",
        "jobs": 0,
        "faults": 0,
        "lost": 0,
        "duplicated": 0,
        "workers_listed": sorted(seen),
        "listed_after_seconds": waited,
        **idle,
    }


ALL = [separate_disks, photo_and_export, media_host_cut_off_mid_compression, flower_lists_every_worker]
