"""A hard-killed export never reaches its `finally`: the next pool process on the same machine
removes the workbook it left in the temp directory, once it is older than any export can run."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from reports.services import TEMP_PREFIX, TEMP_SUFFIX
from tests.harness import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_starting_pool_process_removes_workbooks_a_killed_export_left():
    tmp = Path(tempfile.gettempdir())
    tag = uuid.uuid4().hex[:8]
    left = tmp / f"{TEMP_PREFIX}999999-{tag}-old{TEMP_SUFFIX}"
    running = tmp / f"{TEMP_PREFIX}999999-{tag}-new{TEMP_SUFFIX}"
    left.write_bytes(b"PK partial workbook")
    running.write_bytes(b"PK still being written")
    aged = time.time() - settings.REPORTS_TASK_TIME_LIMIT - 120
    os.utime(left, (aged, aged))
    worker = WorkerProcess(queues="reports", concurrency=1)
    try:
        worker.start()
        deadline = time.monotonic() + 30
        while left.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left.exists(), "the killed export's workbook is still there"
        assert running.exists(), "a workbook an export may still be writing was removed"
    finally:
        worker.stop()
        for path in (left, running):
            path.unlink(missing_ok=True)
