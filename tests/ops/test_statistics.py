"""Daily statistics: a known day, computed on a real worker, equal to numbers worked out by hand."""

import uuid
from datetime import timedelta

import pytest
from django.db import transaction

from config.core import services as job_services
from config.core.models import Job
from config.ops.models import DailyStatistics
from config.ops.services import day_bounds, local_today, percentile, percentile_of
from media_app.models import Image
from notifications.models import Notification
from reports.models import Export

pytestmark = pytest.mark.django_db(transaction=True)


def test_percentile_is_nearest_rank():
    assert percentile([], 95) is None
    assert percentile([7], 50) == 7
    assert percentile([300, 100, 200], 50) == 200
    assert percentile([300, 100, 200], 95) == 300
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile(list(range(1, 21)), 95) == 19


def test_percentile_of_a_queryset_is_the_same_nearest_rank(django_user_model):
    """The database's answer (count, then ORDER BY … OFFSET) equals the list's, value for value."""
    user = django_user_model.objects.create(username="p")
    values = [300, 100, 200, 100, 900, 450, 120]
    now = local_today()
    start, _ = day_bounds(now)
    for ms in values:
        make_image(user, start, processing_ms=ms)
    times = Image.objects.filter(owner=user).values_list("processing_ms", flat=True)
    for q in (1, 25, 50, 90, 95, 100):
        assert percentile_of(times, q) == percentile(values, q)
    assert percentile_of(Image.objects.none().values_list("processing_ms", flat=True), 50) is None


def make_image(user, at, **fields):
    return Image.objects.create(
        owner=user, original=f"media/x/{uuid.uuid4().hex}.jpg", created_at=at, **fields
    )


def failed_job(at, error, task_name="media_app.compress_image"):
    job = Job.objects.create(
        task_id=str(uuid.uuid4()), kind="k", task_name=task_name, state="FAILURE", error=error
    )
    Job.objects.filter(pk=job.pk).update(finished_at=at)
    return job


def run_statistics(wait_job):
    with transaction.atomic():
        job = job_services.job_create(
            owner=None, kind="ops.statistics", task_name="ops.statistics", kwargs={"days_back": 1}
        )
    done = wait_job(job.task_id, timeout=60)
    assert done.state == "SUCCESS", done.error
    return done.result


def test_statistics_match_a_hand_computed_day_twice_in_a_row(celery_worker, user, wait_job):
    day = local_today()
    start, end = day_bounds(day)
    noon = start + timedelta(hours=12)
    # Four processed uploads: 4,000 + 2,000 + 1,000 + 1,000 bytes in; 1,000 + 500 + 300 + 200 out.
    for bytes_in, bytes_out, ms in [(4000, 1000, 120), (2000, 500, 480), (1000, 300, 90), (1000, 200, 300)]:
        make_image(user, noon, state="READY", bytes_in=bytes_in, bytes_out=bytes_out, processing_ms=ms)
    # The first second of the day counts; the first second of the next day does not.
    make_image(user, start, state="PENDING")
    make_image(user, end, state="READY", bytes_in=999, bytes_out=1, processing_ms=9999)
    # Failures: an image that could not be read (its job failed: counted once, through the job),
    # an image failed without a failed job, two time-outs, and an email job.
    unreadable = failed_job(noon, "This file is not an image we can read.")
    make_image(user, noon, state="FAILED", error="This file is not an image we can read.", job=unreadable)
    make_image(user, noon, state="FAILED", error="This image is too large to process.")
    failed_job(noon, "This job took too long and was stopped.")
    failed_job(noon, "This job took too long and was stopped.", task_name="reports.build_export")
    failed_job(noon, "We could not deliver this email.", task_name="notifications.send_email")
    failed_job(noon, "not counted: a periodic job", task_name="ops.cleanup")
    failed_job(start - timedelta(seconds=1), "not counted: the day before")
    # Exports asked for that day, and emails sent that day.
    for at in (start, noon):
        Export.objects.create(owner=user, kind="job_history", created_at=at)
    Export.objects.create(owner=user, kind="job_history", created_at=end)
    for sent_at, state in [
        (noon, "sent"),
        (noon, "sent"),
        (end - timedelta(seconds=1), "sent"),
        (noon, "failed"),
    ]:
        Notification.objects.create(
            recipient=user, kind="general", title="t", email_state=state, email_sent_at=sent_at
        )
    Notification.objects.create(
        recipient=user, kind="general", title="t", email_state="sent", email_sent_at=end
    )

    expected = {
        "uploads": 7,  # four processed, one pending, two failed
        "bytes_in": 8000,
        "bytes_out": 2000,
        "bytes_saved": 6000,
        "saving_percent": 75.0,
        "processing_p50_ms": 120,  # sorted 90, 120, 300, 480: the 2nd of 4
        "processing_p95_ms": 480,  # ceil(0.95 * 4) = 4th
        "failures": 5,
        "failures_by_reason": {
            "This job took too long and was stopped.": 2,
            "This file is not an image we can read.": 1,
            "This image is too large to process.": 1,
            "We could not deliver this email.": 1,
        },
        "exports": 2,
        "emails_sent": 3,
    }
    for _ in range(2):
        assert run_statistics(wait_job)["days"] == [day.isoformat(), (day - timedelta(days=1)).isoformat()]
        assert DailyStatistics.objects.filter(day=day).count() == 1
        stats = DailyStatistics.objects.get(day=day)
        assert {field: getattr(stats, field) for field in expected} == expected
