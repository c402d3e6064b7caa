"""What a worker logs when a job fails: one WARNING line for an expected failure, a traceback at
ERROR only for an unexpected one. Read from a real worker's log."""

from __future__ import annotations

import itertools
import re
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from config.core import services
from tests.helpers import cut_in_half_with_end_marker, post_upload

pytestmark = pytest.mark.django_db(transaction=True)

# A log record starts with its timestamp ("[2025-01-01 12:00:00,000: WARNING/..." or
# "2025-01-01 12:00:00,000 WARNING ..."); a traceback's lines do not.
RECORD_START = re.compile(r"^\[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d", re.MULTILINE)


def records(worker, offset: int) -> list[str]:
    text = worker.log_path.read_bytes()[offset:].decode(errors="replace")
    starts = [m.start() for m in RECORD_START.finditer(text)] + [len(text)]
    return [text[a:b] for a, b in itertools.pairwise(starts)]


def records_about(worker, offset: int, task_id: str, until: str, timeout: float = 30) -> list[str]:
    """The log records written since ``offset`` that name ``task_id``, once one contains ``until``."""
    deadline = time.monotonic() + timeout
    while not any(task_id in r and until in r for r in records(worker, offset)):
        assert time.monotonic() < deadline, f"no log record for {task_id} with {until!r}"
        time.sleep(0.2)
    time.sleep(0.5)  # anything logged right after it lands too
    return [r for r in records(worker, offset) if task_id in r]


def level(record: str) -> str:
    match = re.search(r"\b(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b", record)
    return match.group(1) if match else "?"


def test_a_bad_picture_logs_one_warning_line_and_no_traceback(
    celery_worker, owner_client, testdata, wait_job
):
    offset = celery_worker.log_path.stat().st_size
    data = cut_in_half_with_end_marker((testdata / "images" / "photos" / "Landscape_0.jpg").read_bytes())
    response = post_upload(owner_client, SimpleUploadedFile("half.jpg", data, content_type="image/jpeg"))
    assert response.status_code == 202, response.content
    task_id = response.json()["task_id"]
    job = wait_job(task_id, timeout=120)
    assert job.state == "FAILURE"

    mine = records_about(celery_worker, offset, task_id, until=job.error)
    failures = [r for r in mine if level(r) in ("WARNING", "ERROR", "CRITICAL")]
    assert len(failures) == 1, mine
    [line] = failures
    assert level(line) == "WARNING"
    assert "media_app.compress_image" in line and job.error in line
    assert line.strip().count("\n") == 0, line  # one line
    assert not any("Traceback" in r for r in mine), mine


def test_an_unexpected_error_still_logs_its_traceback_at_error(celery_worker, user, wait_job):
    offset = celery_worker.log_path.stat().st_size
    with transaction.atomic():
        job = services.job_create(owner=user, kind="test", task_name="tests.boom", kwargs={})
    job = wait_job(job.task_id)
    assert job.state == "FAILURE"

    mine = records_about(celery_worker, offset, job.task_id, until="Traceback")
    [failure] = [r for r in mine if level(r) in ("WARNING", "ERROR", "CRITICAL")]
    assert level(failure) == "ERROR"
    assert "Traceback (most recent call last)" in failure and "ValueError" in failure


def test_the_filter_rewrites_only_expected_failures():
    import logging
    import sys

    from config.core.jobtask import JobAttemptsExhausted
    from config.core.tasklog import ExpectedFailureFilter

    def record(exc):
        try:
            raise exc
        except BaseException:
            exc_info = sys.exc_info()
        data = {"name": "media_app.compress_image", "id": "abc"}
        return logging.LogRecord(
            "celery.app.trace", logging.ERROR, __file__, 1, "Task %(name)s raised", (data,), exc_info
        ), data

    expected, data = record(JobAttemptsExhausted("This job stopped its worker 3 times\nand was given up."))
    expected.data = data
    assert ExpectedFailureFilter().filter(expected)
    assert expected.levelno == logging.WARNING and expected.exc_info is None
    assert expected.getMessage() == (
        "Task media_app.compress_image[abc] failed: This job stopped its worker 3 times and was given up."
    )
    assert "Traceback" not in logging.Formatter().format(expected)

    unexpected, data = record(ValueError("boom"))
    unexpected.data = data
    assert ExpectedFailureFilter().filter(unexpected)
    assert unexpected.levelno == logging.ERROR and unexpected.exc_info is not None
    assert "Traceback" in logging.Formatter().format(unexpected)
