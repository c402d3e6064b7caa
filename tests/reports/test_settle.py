"""An export whose job ends without running export code (given up after crashing its worker)
still ends FAILURE itself, with the job's sentence and an expiry for the cleanup job."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings

from config.core import services as job_services
from config.core.models import Job
from reports.models import Export

pytestmark = pytest.mark.django_db(transaction=True)


def test_export_given_up_after_crashes_ends_failure(celery_worker, user, wait_job):
    export = Export.objects.create(owner=user, kind=Export.Kind.JOB_HISTORY, state=Export.State.STARTED)
    # As if two executions had already died with their process mid-export.
    job = Job.objects.create(
        task_id=str(uuid.uuid4()),
        owner=user,
        kind="reports.export",
        task_name="reports.build_export",
        args=[export.pk],
        state=Job.State.STARTED,
        attempts=2,
        interrupted=settings.BACKROOM_JOB_MAX_ATTEMPTS - 1,
    )
    Export.objects.filter(pk=export.pk).update(job=job)
    job_services.job_send(job=job)

    assert wait_job(job.task_id).state == "FAILURE"
    export.refresh_from_db()
    assert export.state == Export.State.FAILURE
    assert "stopped its worker" in export.error
    assert export.expires_at is not None and not export.file


@pytest.mark.django_db
def test_late_failure_of_a_superseded_job_leaves_the_rerun_alone(user):
    from reports import services

    export = Export.objects.create(owner=user, kind=Export.Kind.JOB_HISTORY, state=Export.State.STARTED)
    rerun = Job.objects.create(
        task_id=str(uuid.uuid4()), owner=user, kind="reports.export", task_name="reports.build_export"
    )
    Export.objects.filter(pk=export.pk).update(job=rerun)

    services.export_fail(export_id=export.pk, message="took too long", task_id=str(uuid.uuid4()))
    export.refresh_from_db()
    assert export.state == Export.State.STARTED and not export.error

    services.export_fail(export_id=export.pk, message="took too long", task_id=rerun.task_id)
    export.refresh_from_db()
    assert export.state == Export.State.FAILURE and export.error == "took too long"
