"""An export's workbook is written under its install's own var dir, never the machine's shared
/tmp. A hard-killed export never reaches its `finally`: the next pool process of the same install
removes the workbook it left, once it is older than any export can run, and never touches the
files of another install on the same machine."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import psutil
import pytest
from django.conf import settings

from reports import services
from reports.models import Export
from reports.services import TEMP_PREFIX, TEMP_SUFFIX, export_temp_dir
from tests.harness import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)


def aged_workbook(directory: Path, name: str, *, aged: bool) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{TEMP_PREFIX}999999-{uuid.uuid4().hex[:8]}-{name}{TEMP_SUFFIX}"
    path.write_bytes(b"PK partial workbook")
    if aged:
        then = time.time() - settings.REPORTS_TASK_TIME_LIMIT - 120
        os.utime(path, (then, then))
    return path


def wait_gone(path: Path, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    return not path.exists()


def test_a_starting_pool_process_removes_workbooks_a_killed_export_left():
    tmp = export_temp_dir()
    left = aged_workbook(tmp, "old", aged=True)
    running = aged_workbook(tmp, "new", aged=False)
    worker = WorkerProcess(queues="reports", concurrency=1)
    try:
        worker.start()
        assert wait_gone(left), "the killed export's workbook is still there"
        assert running.exists(), "a workbook an export may still be writing was removed"
    finally:
        worker.stop()
        for path in (left, running):
            path.unlink(missing_ok=True)


def test_an_export_writes_its_workbook_under_the_installs_var_dir(make_user):
    export = Export.objects.create(owner=make_user("writer", email=""), kind=Export.Kind.JOB_HISTORY)
    opened: list[Path] = []

    def look(done: int, total: int) -> None:  # called while the workbook is open
        if not opened:
            files = [Path(f.path) for f in psutil.Process().open_files()]
            opened.extend(p for p in files if p.name.startswith(f"{TEMP_PREFIX}{export.pk}-"))

    assert services.export_build(export_id=export.pk, on_progress=look)["state"] == "SUCCESS"
    [workbook] = opened
    assert workbook.parent == Path(settings.REPORTS_TEMP_DIR)
    assert Path(settings.VAR_DIR) in workbook.parents
    assert (workbook.parent.stat().st_mode & 0o777) == 0o700
    assert not workbook.exists()  # removed once stored


def test_two_installs_on_one_machine_do_not_sweep_each_others_files(tmp_path):
    # Two installs: the same code and settings, each with its own BACKROOM_VAR_DIR.
    relative = Path(settings.REPORTS_TEMP_DIR).relative_to(settings.VAR_DIR)
    installs = {name: tmp_path / f"install-{name}" for name in ("a", "b")}
    left = {name: aged_workbook(var / relative, name, aged=True) for name, var in installs.items()}
    for name in ("b", "a"):
        worker = WorkerProcess(queues="reports", concurrency=1, env={"BACKROOM_VAR_DIR": str(installs[name])})
        try:
            worker.start()
            assert wait_gone(left[name]), f"install {name} did not sweep its own workbook"
            if name == "b":
                assert left["a"].exists(), "install b swept install a's workbook"
        finally:
            worker.stop()
