"""An upload while the broker is down: a 503 within 2 s, and the rows wait, QUEUED, to be re-sent."""

from __future__ import annotations

import subprocess
import sys

import pytest

from config.core.errors import MESSAGE_BROKER_DOWN
from media_app.models import Image
from tests.harness import ROOT, child_env
from tests.helpers import UPLOAD_SCRIPT

pytestmark = [pytest.mark.timing, pytest.mark.django_db(transaction=True)]


def test_upload_with_the_broker_down_answers_503_fast_and_keeps_the_rows(user, photos):
    import json

    from config.core import devredis

    dead = f"redis://127.0.0.1:{devredis.free_port()}/0"
    out = subprocess.run(
        [sys.executable, "-c", UPLOAD_SCRIPT, user.username, str(photos / "Landscape_3.jpg")],
        cwd=ROOT,
        env=child_env(CELERY_BROKER_URL=dead),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == 503 and result["seconds"] < 2.0, result
    assert result["body"] == {"error": MESSAGE_BROKER_DOWN} and result["retry_after"] == "30"
    image = Image.objects.get(owner=user)
    assert image.state == "PENDING" and image.original.storage.exists(image.original.name)
    assert image.job.state == "QUEUED" and image.job.sent_at is None  # the re-dispatcher sends it
