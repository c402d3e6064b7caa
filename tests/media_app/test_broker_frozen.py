"""A broker that stops answering (a frozen redis-server: SIGSTOP) rather than refusing connections.

The kernel still accepts connections for a stopped process and buffers what is sent, so nothing is
refused: only socket timeouts end the wait. An upload must still answer 503 within 2 s and /healthz
within 3 s (saying the broker is down); the job row waits, QUEUED, and is sent once Redis answers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from config.core import devredis
from config.core.errors import MESSAGE_BROKER_DOWN
from config.core.models import Job
from media_app.models import Image
from tests.harness import ROOT, child_env, publishing_to

pytestmark = [pytest.mark.timing, pytest.mark.django_db(transaction=True)]

# A web process that has served with the broker up (its pooled connections open), then finds the
# broker frozen: one upload and one health probe, each timed.
FROZEN_SCRIPT = """
import json, os, signal, sys, time, django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client

redis_pid, username, photo = int(sys.argv[1]), sys.argv[2], sys.argv[3]
client = Client()
client.force_login(get_user_model().objects.get(username=username))


def timed(call):
    started = time.monotonic()
    response = call()
    return {"status": response.status_code, "seconds": round(time.monotonic() - started, 2),
            "body": response.json(), "retry_after": response.get("Retry-After")}


def upload():
    with open(photo, "rb") as fh:
        return client.post("/media/upload/", {"image": fh}, HTTP_ACCEPT="application/json")


out = {"warm": timed(upload), "warm_health": timed(lambda: client.get("/healthz"))}
os.kill(redis_pid, signal.SIGSTOP)
out["upload"] = timed(upload)
out["health"] = timed(lambda: client.get("/healthz"))
print(json.dumps(out))
"""


@pytest.fixture
def frozen_broker(tmp_path):
    """A private redis-server the test may freeze; always thawed and stopped afterwards."""
    proc, url = devredis.start_private_redis(data_dir=tmp_path / "redis", appendonly=False)
    try:
        yield proc, url
    finally:
        try:
            os.kill(proc.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        devredis.stop(proc)


def test_a_frozen_broker_gets_a_503_within_2s_and_healthz_within_3s(user, photos, frozen_broker):
    proc, url = frozen_broker
    photo = photos / "Landscape_3.jpg"
    try:
        out = subprocess.run(
            [sys.executable, "-c", FROZEN_SCRIPT, str(proc.pid), user.username, str(photo)],
            cwd=ROOT,
            # The broker, the cache, the locks and the leases all on the one Redis that freezes.
            env=child_env(CELERY_BROKER_URL=url, REDIS_URL=url),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print("frozen broker:", {k: (v["status"], v["seconds"]) for k, v in result.items()})
    assert result["warm"]["status"] == 202, result["warm"]
    upload, health = result["upload"], result["health"]
    assert upload["status"] == 503 and upload["seconds"] < 2.0, upload
    assert upload["body"] == {"error": MESSAGE_BROKER_DOWN} and upload["retry_after"] == "30"
    assert health["status"] == 503 and health["seconds"] < 3.0, health
    assert "broker" in health["body"]["down"], health["body"]

    image = Image.objects.filter(owner=user).order_by("-pk").first()
    job = Job.objects.get(pk=image.job_id)
    assert job.state == "QUEUED" and job.sent_at is None

    # Thawed, the re-dispatcher (beat runs it every minute) sends the job that was refused.
    from config.core import services

    with publishing_to(url):
        assert services.job_redispatch(older_than_seconds=0) == 1
    job.refresh_from_db()
    assert job.state == "QUEUED" and job.sent_at is not None
    import redis

    # The warm upload's message and the re-dispatched one at least (a publish that timed out may
    # still land once Redis reads its socket again: the job layer runs a duplicate once).
    assert redis.Redis.from_url(url, socket_timeout=5).llen("media") >= 2
