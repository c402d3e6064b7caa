"""Writes to the job record. Every state change is a conditional UPDATE that only moves forward."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import connections, transaction
from django.db.models import Case, F, QuerySet, When
from django.db.models.functions import Coalesce, Now
from django.db.models.sql import UpdateQuery
from kombu.exceptions import OperationalError as KombuOperationalError

from config.celery_app import app

from . import push
from .errors import MESSAGE_CANCELLED, BrokerUnavailable
from .models import Job

logger = logging.getLogger(__name__)
State = Job.State


def job_create(
    *,
    owner: AbstractBaseUser | None,
    kind: str,
    task_name: str,
    args: list | tuple = (),
    kwargs: dict[str, Any] | None = None,
    defer_if_broker_down: bool = False,
    send_options: dict[str, Any] | None = None,
) -> Job:
    """Write a QUEUED job and send its task once the surrounding transaction commits.

    Call inside ``transaction.atomic()`` beside the business row: a rolled-back row never runs.
    If the broker refuses the message, :class:`BrokerUnavailable` leaves the outermost atomic block
    (the rows are committed by then; BrokerUnavailableMiddleware answers 503), unless
    ``defer_if_broker_down`` (for side jobs such as emails, whose request must still succeed). Either
    way the job stays QUEUED and :func:`job_redispatch` sends it when the broker is back.
    ``send_options`` (``queue``, ``priority``, ``eta`` as an ISO datetime) go with every send of it.
    """
    job = Job.objects.create(
        task_id=str(uuid4()),
        owner=owner,
        kind=kind,
        task_name=task_name,
        args=list(args),
        kwargs=kwargs or {},
        send_options=send_options or {},
    )
    transaction.on_commit(lambda: _send_quietly(job) if defer_if_broker_down else job_send(job=job))
    return job


def job_send(*, job: Job) -> None:
    """Hand a job's task to the broker with the job's own task id."""
    options = dict(job.send_options or {})
    if options.get("eta"):
        # A re-dispatch after the ETA has passed sends it for now: Celery runs a past ETA at once.
        options["eta"] = datetime.fromisoformat(options["eta"])
    try:
        app.send_task(
            job.task_name,
            args=job.args,
            kwargs=job.kwargs,
            task_id=job.task_id,
            **options,
        )
    except (KombuOperationalError, OSError) as exc:
        logger.warning("broker refused job %s (%s): %s", job.pk, job.task_name, exc)
        raise BrokerUnavailable([job.pk]) from exc
    Job.objects.filter(pk=job.pk, sent_at__isnull=True).update(sent_at=Now())


def job_redispatch(*, older_than_seconds: int | None = None, limit: int = 500) -> int:
    """Send jobs that were written but never reached the broker. Returns how many were sent."""
    if older_than_seconds is None:
        older_than_seconds = settings.BACKROOM_REDISPATCH_AFTER
    # The database's clock, as created_at's (job_create): the web host's and this one's may differ.
    cutoff = Now() - timedelta(seconds=older_than_seconds)
    stuck = Job.objects.filter(state=State.QUEUED, sent_at__isnull=True, created_at__lte=cutoff)
    sent = 0
    for job in stuck.order_by("created_at")[:limit]:
        try:
            job_send(job=job)
        except BrokerUnavailable:
            break
        sent += 1
    if sent:
        logger.info("re-dispatched %d job(s) that never reached the broker", sent)
    return sent


def _update_returning(queryset: QuerySet, values: dict[str, Any]) -> list[dict]:
    """``queryset.update(**values)`` that also hands back the rows it changed, as the status
    stream publishes them (push.STATUS_FIELDS), in the same statement (UPDATE … RETURNING).

    Each state change used to be read again after its commit to publish it: a second statement
    on every change of every job. Django's own compiler writes the UPDATE (expressions, the
    backend's quoting); RETURNING is added to it, and each value goes through the converters a
    SELECT of the same column would apply (SQLite's datetimes, JSON). SQLite ≥ 3.35 and
    PostgreSQL return rows from an UPDATE; elsewhere (MySQL, MariaDB) they are read after it.
    """
    connection = connections[queryset.db]
    fields = [Job._meta.get_field(name) for name in push.STATUS_FIELDS]
    returning = connection.vendor == "postgresql" or (
        connection.vendor == "sqlite" and connection.features.can_return_rows_from_bulk_insert
    )
    if not returning:
        pks = list(queryset.values_list("pk", flat=True))
        queryset.filter(pk__in=pks).update(**values)
        return list(Job.objects.filter(pk__in=pks).values(*push.STATUS_FIELDS))
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    compiler = query.get_compiler(queryset.db)
    compiler.pre_sql_setup()
    text, params = compiler.as_sql()
    quote = connection.ops.quote_name
    text += " RETURNING " + ", ".join(quote(field.column) for field in fields)
    columns = [field.get_col(Job._meta.db_table) for field in fields]
    converters = [
        connection.ops.get_db_converters(col) + col.get_db_converters(connection) for col in columns
    ]
    with connection.cursor() as cursor:
        cursor.execute(text, params)
        raw = cursor.fetchall()
    rows = []
    for values_in_row in raw:
        row = {}
        for name, col, convert, value in zip(
            push.STATUS_FIELDS, columns, converters, values_in_row, strict=True
        ):
            for converter in convert:
                value = converter(value, col, connection)
            row[name] = value
        rows.append(row)
    return rows


class StartDecision:
    RUN = "run"
    SKIP = "skip"  # already final: a late duplicate delivery
    GIVE_UP = "give_up"  # its process died too many times


def job_start(*, task_id: str, task_name: str) -> tuple[str, Job | None]:
    """Record that an execution begins; decide whether it should run at all.

    An execution that finds its job still STARTED or PROGRESS follows one whose process died
    without reporting back: that is counted, so a task that kills its worker every time ends.
    A job that has no row (a beat-sent periodic task) gets one here, so it shows in the admin.
    The returned job is None when the common case (a QUEUED or RETRY job) took the fast path.
    """
    # Every time written here is the database's (Now()): the cleanup on another host compares
    # started_at and updated_at with its cutoff, and the hosts' own clocks may differ.
    now = Now()
    # The common case in one statement: a queued (or retrying) job that has not crashed its worker.
    # Every task runs this, so a SELECT before the UPDATE would cost each of them a round trip.
    started = _update_returning(
        Job.objects.filter(
            task_id=task_id,
            state__in=(State.QUEUED, State.RETRY),
            interrupted__lt=settings.BACKROOM_JOB_MAX_ATTEMPTS,
        ),
        {
            "state": State.STARTED,
            "attempts": F("attempts") + 1,
            "started_at": Coalesce(F("started_at"), now),
            "updated_at": now,
            "sent_at": Coalesce(F("sent_at"), now),
        },
    )
    if started:
        push.on_commit_publish_row(started[0])
        return StartDecision.RUN, None
    job = Job.objects.filter(task_id=task_id).first()
    if job is None:
        job, _ = Job.objects.get_or_create(
            task_id=task_id,
            defaults={
                "kind": task_name,
                "task_name": task_name,
                "owner": None,
                "sent_at": now,
                "created_at": now,
            },
        )
    if job.is_final:
        return StartDecision.SKIP, job
    interrupted = job.interrupted + (1 if job.state in (State.STARTED, State.PROGRESS) else 0)
    if interrupted >= settings.BACKROOM_JOB_MAX_ATTEMPTS:
        Job.objects.filter(pk=job.pk).update(interrupted=interrupted)
        job.interrupted = interrupted
        return StartDecision.GIVE_UP, job
    updated = Job.objects.filter(pk=job.pk, state__in=Job.ACTIVE_STATES).update(
        state=State.STARTED,
        attempts=job.attempts + 1,
        interrupted=interrupted,
        started_at=job.started_at or now,
        updated_at=now,
        sent_at=job.sent_at or now,
    )
    if not updated:
        return StartDecision.SKIP, job
    job.state, job.attempts, job.interrupted = State.STARTED, job.attempts + 1, interrupted
    push.on_commit_publish(task_id)
    return StartDecision.RUN, job


def job_progress(*, task_id: str, current: int, total: int) -> bool:
    """Record progress. False when the job is no longer running (cancelled, or finished elsewhere)."""
    moved = _update_returning(
        Job.objects.filter(task_id=task_id, state__in=(State.STARTED, State.PROGRESS)),
        {
            "state": State.PROGRESS,
            "progress_current": min(current, total),
            "progress_total": total,
            "updated_at": Now(),
        },
    )
    if moved:
        push.on_commit_publish_row(moved[0])
    return bool(moved)


def job_is_cancelled(*, task_id: str) -> bool:
    return Job.objects.filter(task_id=task_id, state=State.CANCELLED).exists()


# Kept longer than any job runs. A flag in Redis as well as the row: a running export on SQLite reads
# through an open statement, so its connection keeps seeing the row as it was when the read began.
CANCEL_FLAG_SECONDS = 24 * 3600


def job_cancel_requested(*, task_id: str) -> bool:
    """The running task's cheap check (one Redis GET) at a progress point."""
    try:
        return bool(cache.get(f"job-cancelled:{task_id}"))
    except Exception:  # Redis away: the row's state is still checked after the progress write
        return False


def _flag_cancelled(task_id: str) -> None:
    try:
        cache.set(f"job-cancelled:{task_id}", 1, timeout=CANCEL_FLAG_SECONDS)
    except Exception as exc:
        logger.warning("job %s: could not flag its cancel in Redis: %s", task_id, exc)


class JobAlreadyFinished(Exception):
    """A cancel came too late: the job (or the work it does) has finished."""


def job_cancel(*, job: Job) -> None:
    """Cancel a queued or running job. Raises :class:`JobAlreadyFinished` when it is too late.

    One transaction moves the job to CANCELLED (a conditional UPDATE, like every state change) and
    lets its task's ``settle_cancel`` hook settle the business row; a hook that finds the work done
    (an image already READY) refuses, and nothing changes. After commit the task is revoked, so
    workers drop a queued message; a running task either stops at its next progress point
    (JobTask.progress sees the state) or, where its class says the work is safe to interrupt
    anywhere (``cancel_terminates``), is signalled at once. Whatever happens to the message later,
    job_start finds a final job and never runs it.
    """
    task = _task_class(job.task_name)
    now = Now()
    with transaction.atomic():
        moved = Job.objects.filter(pk=job.pk, state__in=Job.ACTIVE_STATES).update(
            state=State.CANCELLED, error=MESSAGE_CANCELLED, finished_at=now, updated_at=now
        )
        if not moved:
            raise JobAlreadyFinished(job.task_id)
        if task is not None and not _settle_cancel(task, job.task_id, job.args, job.kwargs):
            raise JobAlreadyFinished(job.task_id)  # rolls the job back to where it was
        transaction.on_commit(
            lambda: (_flag_cancelled(job.task_id), _revoke(task, job.task_id), push.job_changed(job.task_id))
        )


def job_settle_cancel(*, task, task_id: str, args, kwargs) -> bool:
    """Run a task's settle_cancel hook in a savepoint; True unless it said the work is done."""
    transaction.on_commit(lambda: _flag_cancelled(task_id))
    return _settle_cancel(task, task_id, args, kwargs)


def _settle_cancel(task, task_id: str, args, kwargs) -> bool:
    settle = getattr(task, "settle_cancel", None)
    if settle is None:
        return True
    try:
        with transaction.atomic():  # a savepoint: a broken hook must not block the cancel
            return settle(task_id, *(args or ()), **(kwargs or {})) is not False
    except Exception:
        # The job is cancelled anyway; the business row is left for the cleanup's sweep.
        logger.exception("job %s: could not settle its business row after a cancel", task_id)
        return True


def _revoke(task, task_id: str) -> None:
    terminate = bool(getattr(task, "cancel_terminates", False))
    try:
        # SIGUSR1 is Celery's soft-time-limit signal: it raises SoftTimeLimitExceeded inside the
        # task, whose own cleanup runs (a SIGTERM would kill the process mid-write).
        app.control.revoke(task_id, terminate=terminate, signal="SIGUSR1")
    except Exception as exc:
        # Not needed for correctness: job_start skips the job and progress points stop it.
        logger.warning("job %s: could not broadcast its revoke: %s", task_id, exc)


def _task_class(name: str):
    if name not in app.tasks:
        app.loader.import_default_modules()  # the web process has not imported tasks modules
    return app.tasks.get(name)


def job_retrying(*, task_id: str, error: str) -> bool:
    moved = _update_returning(
        Job.objects.filter(task_id=task_id, state__in=Job.ACTIVE_STATES),
        {"state": State.RETRY, "error": error, "updated_at": Now()},
    )
    if moved:
        push.on_commit_publish_row(moved[0])
    return bool(moved)


def job_finish(*, task_id: str, state: str, result: Any = None, error: str = "") -> bool | None:
    """Move an active job to SUCCESS, FAILURE or CANCELLED. False if it was final already (a
    cancelled job stays cancelled whatever its execution reports later); None if there is no row."""
    now = Now()
    values: dict[str, Any] = {"state": state, "finished_at": now, "updated_at": now}
    if state == State.SUCCESS:
        # A finished job shows a full bar even if the task never reported progress. Decided in
        # the UPDATE itself: this runs inside the result backend's transaction, holding the write lock.
        values.update(
            result=result,
            error="",
            progress_current=Case(
                When(progress_total__gt=0, then=F("progress_total")), default=F("progress_current")
            ),
        )
    else:
        values.update(error=error[:500])
    moved = _update_returning(Job.objects.filter(task_id=task_id, state__in=Job.ACTIVE_STATES), values)
    if moved:
        push.on_commit_publish_row(moved[0])
        return True
    return False if Job.objects.filter(task_id=task_id).exists() else None


def jobs_retry(*, jobs: list[Job]) -> int:
    """Re-run failed jobs under fresh task ids (admin action). Returns how many were re-queued."""
    count = 0
    for job in jobs:
        if job.state != State.FAILURE:
            continue
        with transaction.atomic():
            Job.objects.filter(pk=job.pk).update(
                task_id=str(uuid4()),
                state=State.QUEUED,
                error="",
                result=None,
                progress_current=None,
                progress_total=None,
                interrupted=0,
                sent_at=None,
                started_at=None,
                finished_at=None,
                updated_at=Now(),  # the stream's event id: newer than the failure it replaces
            )
            job.refresh_from_db()
            # Published before the send, so the owner's streams get QUEUED before the worker's STARTED.
            push.on_commit_publish(job.task_id)
            transaction.on_commit(lambda job=job: _send_quietly(job))
        count += 1
    return count


def _send_quietly(job: Job) -> None:
    try:
        job_send(job=job)
    except BrokerUnavailable:
        pass  # stays QUEUED; the re-dispatcher sends it


def rows_settle_behind_final_jobs(
    *,
    unsettled: Callable[[int, int], list],
    fail: Callable[..., bool],
    unfinished_message: str,
    batch_size: int = 1000,
) -> int:
    """Fail the business rows still active behind a job that is already final (a cleanup sweep).

    The failure hook normally settles a row in its job's own transaction; this catches the ones it
    missed (a hook that raised, rows older than the hook). ``unsettled(after_pk, limit)`` returns
    the app's rows with their ``job``, in pk order; ``fail(row, message, task_id)`` fails one and
    says whether it moved. A row takes its job's error, or ``unfinished_message`` when the job
    ended otherwise. Returns how many rows it failed.
    """
    settled = 0
    last_pk = 0
    while True:
        rows = unsettled(last_pk, batch_size)
        if not rows:
            return settled
        last_pk = rows[-1].pk
        for row in rows:
            job = row.job
            message = job.error if job.state == State.FAILURE and job.error else unfinished_message
            # With the job's task id: a re-run started meanwhile is left alone.
            settled += bool(fail(row, message, job.task_id))
