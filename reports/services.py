"""Every write of the reports app: asking for an export, building it, its download links."""

from __future__ import annotations

import json
import logging
import os
import secrets
import stat
import tempfile
import time
import zoneinfo
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.files import File
from django.db import DatabaseError, transaction
from django.db.models import DurationField, F, Value
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Now
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from config.accounts import selectors as accounts
from config.core.clock import db_now
from config.core.errors import MESSAGE_GENERIC, MESSAGE_TIMEOUT, HumanError, JobCancelled, TransientError
from config.core.humanize import human_bytes, human_duration, plural
from config.core.services import job_create, rows_settle_behind_final_jobs
from config.core.storage import STORAGE_ERRORS
from config.ops.files import delete_file
from notifications import services as notifications

from . import csvfile, dates, excel, selectors
from .models import MESSAGE_STOPPED, Export, Format, ReportSchedule, export_storage_name

logger = logging.getLogger(__name__)

TASK_NAME = "reports.build_export"
JOB_KIND = "reports.export"
# Signatures made for export downloads are worthless anywhere else, and the reverse.
DOWNLOAD_SALT = "reports.export.download"
MESSAGE_LIMIT = (
    "You already have {n} exports being prepared. Please wait until one of them is ready, then ask again."
)
MESSAGE_TOO_MANY_ROWS = (
    "This report has {rows:,} rows, more than one export may hold ({limit:,}). "
    "Please choose a shorter date range."
)
MESSAGE_STORAGE = "We could not save the export file. Please try again later."
MESSAGE_CANCELLED = "Cancelled. You can ask for it again."
# The workbook's temporary file, in this install's own directory (settings.REPORTS_TEMP_DIR,
# under its var dir), never the machine's shared /tmp: there, two installs would sweep each
# other's files. A worker killed mid-export never unlinks it: export_temp_files_delete removes
# such files by this name once they are old.
TEMP_PREFIX = "backroom-export-"
TEMP_SUFFIX = ".xlsx"
TEMP_SUFFIXES = (".xlsx", ".csv")
CONTENT_TYPES = {Format.XLSX: excel.XLSX_CONTENT_TYPE, Format.CSV: csvfile.CSV_CONTENT_TYPE}


def export_temp_dir() -> Path:
    """This install's directory for export workbooks being written (made on first use, 0700)."""
    directory = Path(settings.REPORTS_TEMP_DIR)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


def export_temp_files_delete(
    *, older_than_seconds: float | None = None, directory: str | Path | None = None
) -> dict[str, int]:
    """Delete workbooks a killed export of this install left in its temp directory.

    Only files older than the export task's hard time limit (plus a minute) by default: no export
    can still be writing those. Symlinks and anything but plain files are left alone. Returns
    {"files", "bytes"} removed.
    """
    if older_than_seconds is None:
        older_than_seconds = settings.REPORTS_TASK_TIME_LIMIT + 60
    directory = directory or settings.REPORTS_TEMP_DIR
    cutoff = time.time() - older_than_seconds
    done = {"files": 0, "bytes": 0}
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return done  # no export ran here yet
    except OSError as exc:
        logger.warning("could not list %s: %s", directory, exc)
        return done
    for entry in entries:
        if not (entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(TEMP_SUFFIXES)):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or info.st_mtime >= cutoff:
                continue
            os.unlink(entry.path)
        except FileNotFoundError:
            continue  # its export's `finally` got there first
        except OSError as exc:
            logger.warning("could not delete %s: %s", entry.path, exc)
            continue
        done["files"] += 1
        done["bytes"] += info.st_size
        logger.info("deleted export temp file %s left by a killed worker", entry.path)
    return done


class ExportLimitReached(Exception):
    """The owner has as many exports queued or running as allowed. The message is for them."""

    def __init__(self, limit: int) -> None:
        self.message = MESSAGE_LIMIT.format(n=limit)
        super().__init__(self.message)


# --- asking for an export -------------------------------------------------------------------------


def export_request(
    *,
    user: AbstractBaseUser,
    kind: str,
    date_from: date | None = None,
    date_to: date | None = None,
    format: str = Format.XLSX,
    columns: list[str] | None = None,
    filters: dict | None = None,
    schedule=None,
) -> Export:
    """Write the export and its job; the task is sent once this commits.

    ``columns`` are column keys in the order wanted (None: all, in the kind's order); ``filters``
    only those the kind has (the caller checked them with selectors.columns_error/filters_error).
    Raises :class:`ExportLimitReached` when the user already has REPORTS_MAX_ACTIVE_PER_USER
    exports queued or running; a scheduled run (``schedule``) is not counted against it (one per
    period per schedule already bounds those). The count and the insert happen under a lock on the
    user's row (on SQLite the write lock taken at BEGIN), so two requests at once cannot both pass.
    """
    limit = settings.REPORTS_MAX_ACTIVE_PER_USER
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
        if schedule is None and selectors.exports_active_count(user=user) >= limit:
            raise ExportLimitReached(limit)
        export = Export.objects.create(
            owner=user,
            kind=kind,
            date_from=date_from,
            date_to=date_to,
            format=format,
            columns=list(columns or []),
            filters=dict(filters or {}),
            schedule=schedule,
            storage_name=export_storage_name(format),
        )
        export.job = job_create(owner=user, kind=JOB_KIND, task_name=TASK_NAME, args=[export.pk])
        export.save(update_fields=["job"])
    return export


# --- building it (on the reports worker) ----------------------------------------------------------


def export_build(
    *,
    export_id: int,
    on_progress: Callable[[int, int], None] | None = None,
    final_attempt: bool = False,
) -> dict[str, Any]:
    """Write the export's workbook to a temporary file, then store it under the export's name.

    Safe to run twice: a finished export is left alone, and a re-run replaces the stored file
    (the name is fixed per export). On failure nothing stays in storage and the export ends
    FAILURE with a sentence for its owner. A storage or database hiccup raises TransientError for
    a retry (the export stays STARTED), unless ``final_attempt``: then it fails like the rest.
    """
    with transaction.atomic():
        export = Export.objects.select_for_update().filter(pk=export_id).first()
        if export is None:
            return {"export_id": export_id, "state": "MISSING"}
        if export.state not in Export.ACTIVE_STATES:
            return _summary(export)
        Export.objects.filter(pk=export.pk).update(state=Export.State.STARTED)
        export.state = Export.State.STARTED

    # Times in the file, the date range's days and the header are in the owner's own time zone.
    with timezone.override(accounts.time_zone_info(user=export.owner)):
        return _build(export, on_progress=on_progress, final_attempt=final_attempt)


def _build(export: Export, *, on_progress, final_attempt: bool) -> dict[str, Any]:
    _refuse_impossible(export)
    name = export.storage_name
    storage = export.file.storage
    fd, tmp_path = tempfile.mkstemp(
        prefix=f"{TEMP_PREFIX}{export.pk}-", suffix=f".{export.format}", dir=export_temp_dir()
    )
    try:
        with os.fdopen(fd, "w+b") as tmp:
            count = _write(export, tmp, on_progress=on_progress)
            size = tmp.tell()
            tmp.seek(0)
            saved = _store(storage, name, tmp)
    except Exception as exc:
        replacement = _build_failed(export, exc, final_attempt=final_attempt)
        if replacement is None:
            raise
        raise replacement from exc
    finally:
        Path(tmp_path).unlink(missing_ok=True)

    return _finish(export, saved_name=saved, rows=count, size=size)


def _refuse_impossible(export: Export) -> None:
    impossible = (
        dates.range_error(export.date_from, export.date_to)
        or selectors.columns_error(export.kind, export.columns or [])
        or selectors.filters_error(export.kind, export.filters or {}, is_staff=export.owner.is_staff)
    )
    if impossible:
        # The form refuses such dates; a row written another way (the shell, an older release) ends
        # here with the sentence, not with a date overflowing in the query.
        _fail(export, impossible)
        raise HumanError(impossible)


def _write(export: Export, tmp, *, on_progress) -> int:
    """Write the export's rows to ``tmp`` in its format; returns how many."""
    report, total, rows = selectors.export_source(export)
    if on_progress is not None:
        on_progress(0, total)
    progress = (lambda n: on_progress(n, max(total, n))) if on_progress else None
    if export.format == Format.CSV:
        return csvfile.write_csv(
            tmp,
            columns=report.columns,
            rows=rows,
            tz=timezone.get_current_timezone(),
            total=total,
            max_rows=_max_rows(export),
            on_progress=progress,
        )
    return excel.write_workbook(
        tmp,
        title=report.title,
        columns=report.columns,
        rows=rows,
        tz=timezone.get_current_timezone(),
        total=total,
        max_rows=_max_rows(export),
        on_progress=progress,
    )


def _store(storage, name: str, tmp) -> str:
    try:
        # A file left by an earlier attempt is replaced, never kept beside this one.
        storage.delete(name)
        return storage.save(name, File(tmp, name=os.path.basename(name)))
    except STORAGE_ERRORS as exc:
        delete_file(storage, name, measure=False)
        raise TransientError(f"storage: {exc}") from exc


def _build_failed(export: Export, exc: Exception, *, final_attempt: bool) -> Exception | None:
    """Settle the export after ``exc`` broke its build; returns the exception to raise instead of
    ``exc`` (from it), or None to raise ``exc`` itself."""
    if isinstance(exc, excel.TooManyRows):
        message = MESSAGE_TOO_MANY_ROWS.format(rows=exc.rows, limit=_max_rows(export))
        _fail(export, message)
        return HumanError(message)
    if isinstance(exc, HumanError):
        _fail(export, exc.message)
        return None
    if isinstance(exc, JobCancelled):
        # Cancelled at a progress point: export_cancel settled the row; leave no file behind.
        delete_file(export.file.storage, export.storage_name, measure=False)
        return None
    if isinstance(exc, SoftTimeLimitExceeded):
        _fail(export, MESSAGE_TIMEOUT)
        return None
    if isinstance(exc, (TransientError, DatabaseError)):
        # Storage or a locked/restarting database: worth another attempt, unless this was the last.
        if final_attempt:
            message = MESSAGE_STORAGE if isinstance(exc, TransientError) else MESSAGE_GENERIC
            logger.warning("export %s failed on its last attempt: %s", export.pk, exc)
            _fail(export, message)
            return HumanError(message)
        if isinstance(exc, DatabaseError):
            return TransientError(f"database: {exc}")
        return None
    logger.exception("export %s failed", export.pk)
    _fail(export, MESSAGE_GENERIC)
    return None


def _max_rows(export: Export) -> int:
    """REPORTS_MAX_ROWS, and for Excel no more than a sheet holds (CSV has no such limit)."""
    if export.format == Format.CSV:
        return settings.REPORTS_MAX_ROWS
    return min(settings.REPORTS_MAX_ROWS, excel.MAX_DATA_ROWS)


def _link_expiry(now: Now) -> CombinedExpression:
    return now + Value(timedelta(seconds=settings.REPORTS_LINK_MAX_AGE), output_field=DurationField())


def _finish(export: Export, *, saved_name: str, rows: int, size: int) -> dict[str, Any]:
    now = Now()  # the database's clock: the web hosts compare expires_at with it (selectors)
    with transaction.atomic():
        moved = Export.objects.filter(pk=export.pk, state__in=Export.ACTIVE_STATES).update(
            state=Export.State.SUCCESS,
            file=saved_name,
            rows=rows,
            bytes=size,
            error="",
            finished_at=now,
            expires_at=_link_expiry(now),
        )
        if moved:
            _schedule_succeeded(export.schedule_id)
            transaction.on_commit(lambda: _notify_ready(export.pk))
    export.refresh_from_db()
    if not moved and export.state == Export.State.CANCELLED:
        delete_file(export.file.storage, saved_name, measure=False)  # cancelled as it was stored
    return _summary(export)


def export_cancel(*, export_id: int, task_id: str) -> bool:
    """Mark an export CANCELLED with its job (inside job_cancel's transaction) and remove any file
    of it after commit. False when the export has succeeded already: too late, the cancel is refused."""
    exports = Export.objects.filter(pk=export_id, job__task_id=task_id)
    current = exports.select_for_update().values_list("state", "storage_name").first()
    if current is None:
        return True
    state, storage_name = current
    if state == Export.State.SUCCESS:
        return False
    now = Now()
    moved = exports.filter(state__in=Export.ACTIVE_STATES).update(
        state=Export.State.CANCELLED,
        file="",
        error=MESSAGE_CANCELLED,
        finished_at=now,
        # History only, removed by the cleanup job like a failed export.
        expires_at=_link_expiry(now),
    )
    if moved:
        storage = Export._meta.get_field("file").storage
        transaction.on_commit(lambda: delete_file(storage, storage_name, measure=False))
    return True


def export_fail(*, export_id: int, message: str, task_id: str | None = None) -> bool:
    """End an export FAILURE from outside its build (a hard time limit, a crash loop). With task_id,
    only while that job is still its job (a late failure of a superseded job must not touch a re-run).
    True if this call ended it."""
    exports = Export.objects.filter(pk=export_id, state__in=Export.ACTIVE_STATES)
    if task_id is not None:
        exports = exports.filter(job__task_id=task_id)
    export = exports.first()
    return export is not None and _fail(export, message)


def _fail(export: Export, message: str) -> bool:
    """End the export FAILURE and make sure no file of it stays in storage. True if it moved."""
    delete_file(export.file.storage, export.storage_name, measure=False)
    now = Now()
    with transaction.atomic():
        moved = Export.objects.filter(pk=export.pk, state__in=Export.ACTIVE_STATES).update(
            state=Export.State.FAILURE,
            file="",
            error=message[:500],
            finished_at=now,
            # The row is history only; the cleanup job removes it with the successful ones.
            expires_at=_link_expiry(now),
        )
        if moved:
            _schedule_failed(export.schedule_id, message)
            transaction.on_commit(lambda: _notify_failed(export.pk))
    return bool(moved)


def _summary(export: Export) -> dict[str, Any]:
    return {"export_id": export.pk, "state": export.state, "rows": export.rows, "bytes": export.bytes}


def _notify_ready(export_id: int) -> None:
    """Tell the owner, with the link. A failed notification never undoes a finished export."""
    try:
        export = Export.objects.select_related("owner", "schedule").get(pk=export_id)
        zone = accounts.time_zone_info(user=export.owner)
        until = timezone.localtime(export.expires_at, zone).strftime("%Y-%m-%d %H:%M")
        title = f"Your {export.get_kind_display().lower()} export is ready"
        if export.schedule is not None:
            every = _FREQUENCY_WORDS[export.schedule.frequency]
            title = f"Your {every} {export.get_kind_display().lower()} report ({export.format.upper()})"
        notifications.notify(
            user=export.owner,
            kind="export_ready",
            title=title,
            body=(
                f"{plural(export.rows, 'row')}, {human_bytes(export.bytes)}. The download link works for "
                f"{human_duration(settings.REPORTS_LINK_MAX_AGE)} (until {until}, {zone.key} time), "
                "for you only."
            ),
            link=settings.SITE_URL + export_download_url(export=export),
            key=f"export:{export.pk}",
        )
    except Exception:
        logger.exception("could not notify the owner of export %s", export_id)


_FREQUENCY_WORDS = {"daily": "daily", "weekly": "weekly", "monthly": "monthly"}


def _notify_failed(export_id: int) -> None:
    try:
        export = Export.objects.select_related("owner", "schedule").get(pk=export_id)
        title = f"Your {export.get_kind_display().lower()} export failed"
        body = export.error
        if export.schedule is not None:
            every = _FREQUENCY_WORDS[export.schedule.frequency]
            title = f"Your {every} {export.get_kind_display().lower()} report failed"
            if export.schedule.paused_reason:
                body = f"{body} {export.schedule.paused_reason}"
        # One notification per failed run (the key), so the owner hears of each failure once.
        notifications.notify(
            user=export.owner,
            kind="export_failed",
            title=title,
            body=body,
            link=reverse("reports:index"),
            key=f"export-failed:{export.pk}",
        )
    except Exception:
        logger.exception("could not notify the owner of export %s", export_id)


# --- the end of an export's life (the cleanup's sweeps, registered in ops.py) --------------------


def exports_delete_expired(*, grace_hours: float = 0, batch_size: int = 1000) -> dict[str, int]:
    """Delete exports whose link has expired: the row first, then its file once that commits.

    A failed export expires too (its row is history only). A file whose delete fails is left
    behind without a row; the orphan sweep removes it later. Returns {"rows", "files", "bytes"}.
    """
    storage = Export._meta.get_field("file").storage
    expired = selectors.exports_expired(now=db_now() - timedelta(hours=grace_hours))
    done = {"rows": 0, "files": 0, "bytes": 0}
    while True:
        batch = list(expired.order_by("pk").values_list("pk", "file")[:batch_size])
        if not batch:
            return done
        with transaction.atomic():
            _, per_model = Export._base_manager.filter(pk__in=[pk for pk, _ in batch]).delete()
        deleted = per_model.get(Export._meta.label, 0)
        if not deleted:
            return done  # someone else deleted them meanwhile, with their files
        done["rows"] += deleted
        for _, name in batch:
            if name:
                done["bytes"] += delete_file(storage, name)
                done["files"] += 1


def exports_settle(*, batch_size: int = 1000) -> int:
    """Fail the exports left QUEUED or STARTED behind a final job; returns how many."""
    return rows_settle_behind_final_jobs(
        unsettled=lambda after_pk, limit: selectors.exports_unsettled(after_pk=after_pk, limit=limit),
        fail=lambda export, message, task_id: export_fail(
            export_id=export.pk, message=message, task_id=task_id
        ),
        unfinished_message=MESSAGE_STOPPED,
        batch_size=batch_size,
    )


# --- download links -------------------------------------------------------------------------------


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=DOWNLOAD_SALT)


def export_download_token(*, export: Export) -> str:
    return _signer().sign_object({"e": export.pk, "u": export.owner_id})


def export_download_url(*, export: Export) -> str:
    """A site-relative signed link, good for REPORTS_LINK_MAX_AGE seconds, for the owner only."""
    return reverse("reports:download", args=[export.pk, export_download_token(export=export)])


class LinkExpired(Exception):
    pass


class LinkInvalid(Exception):
    pass


def export_download_verify(*, export: Export, token: str) -> None:
    """Check a download token against the export it claims to open.

    Raises :class:`LinkExpired` past REPORTS_LINK_MAX_AGE, :class:`LinkInvalid` when it was
    altered or made for another export or owner.
    """
    try:
        payload = _signer().unsign_object(token, max_age=settings.REPORTS_LINK_MAX_AGE)
    except signing.SignatureExpired:
        raise LinkExpired from None
    except (signing.BadSignature, ValueError, UnicodeDecodeError):
        raise LinkInvalid from None
    if not isinstance(payload, dict) or payload.get("e") != export.pk or payload.get("u") != export.owner_id:
        raise LinkInvalid


def export_mark_downloaded(*, export: Export) -> None:
    Export.objects.filter(pk=export.pk).update(
        downloads=F("downloads") + 1, last_downloaded_at=timezone.now()
    )


# --- scheduled reports ----------------------------------------------------------------------------

SCHEDULE_TASK = "reports.run_schedule"
MESSAGE_PAUSED = (
    "Paused after {n} failed runs in a row. The last one said: {error} "
    "Resume it here once the cause is fixed."
)
_WEEKDAYS = dict(ReportSchedule.Weekday.choices)


def _crontab(*, frequency: str, at, day_of_week: int, day_of_month: int, time_zone: str) -> CrontabSchedule:
    """The beat schedule of one choice, in the person's zone. Rows are shared (found by their
    fields), never edited in place: a schedule that changes points at another row."""
    fields = {
        "minute": str(at.minute),
        "hour": str(at.hour),
        "day_of_week": str(day_of_week) if frequency == ReportSchedule.Frequency.WEEKLY else "*",
        "day_of_month": str(day_of_month) if frequency == ReportSchedule.Frequency.MONTHLY else "*",
        "month_of_year": "*",
        "timezone": time_zone,
    }
    found = CrontabSchedule.objects.filter(**fields).order_by("pk").first()
    return found or CrontabSchedule.objects.create(**fields)


def schedule_create(
    *,
    user: AbstractBaseUser,
    kind: str,
    format: str,
    columns: list[str],
    filters: dict,
    frequency: str,
    at,
    day_of_week: int = ReportSchedule.Weekday.MONDAY,
    day_of_month: int = 1,
    range_days: int = 7,
) -> ReportSchedule:
    """A scheduled report for ``user``: our row and its PeriodicTask, in the person's time zone."""
    zone = accounts.time_zone_for(user=user)
    with transaction.atomic():
        task = PeriodicTask.objects.create(
            name=f"report-schedule-new-{secrets.token_hex(8)}",
            task=SCHEDULE_TASK,
            crontab=_crontab(
                frequency=frequency, at=at, day_of_week=day_of_week, day_of_month=day_of_month, time_zone=zone
            ),
            kwargs="{}",
        )
        schedule = ReportSchedule.objects.create(
            owner=user,
            periodic_task=task,
            kind=kind,
            format=format,
            columns=list(columns),
            filters=dict(filters),
            frequency=frequency,
            at=at,
            day_of_week=day_of_week,
            day_of_month=day_of_month,
            range_days=range_days,
            time_zone=zone,
        )
        task.name = f"report-schedule-{schedule.pk}"
        task.kwargs = json.dumps({"schedule_id": schedule.pk})
        task.description = f"{user.get_username()}: {schedule_describe(schedule=schedule)}"
        task.save()  # its signal tells beat the schedule changed
    return schedule


def schedule_update(*, schedule: ReportSchedule, **fields) -> ReportSchedule:
    """Change what and when; a paused schedule stays paused (resume is its own choice)."""
    with transaction.atomic():
        for name, value in fields.items():
            setattr(schedule, name, value)
        schedule.time_zone = accounts.time_zone_for(user=schedule.owner)
        schedule.save()
        _sync_task(schedule)
    return schedule


def _sync_task(schedule: ReportSchedule) -> None:
    task = PeriodicTask.objects.select_for_update().get(pk=schedule.periodic_task_id)
    task.crontab = _crontab(
        frequency=schedule.frequency,
        at=schedule.at,
        day_of_week=schedule.day_of_week,
        day_of_month=schedule.day_of_month,
        time_zone=schedule.time_zone,
    )
    task.description = f"{schedule.owner.get_username()}: {schedule_describe(schedule=schedule)}"
    task.save()
    schedule.periodic_task = task


def schedule_pause(*, schedule: ReportSchedule, reason: str = "") -> None:
    with transaction.atomic():
        ReportSchedule.objects.filter(pk=schedule.pk).update(paused_reason=reason[:500])
        task = PeriodicTask.objects.select_for_update().get(pk=schedule.periodic_task_id)
        task.enabled = False
        task.save()
    schedule.paused_reason = reason[:500]


def schedule_resume(*, schedule: ReportSchedule) -> None:
    """Run again from the next due time, with a clean failure count."""
    with transaction.atomic():
        ReportSchedule.objects.filter(pk=schedule.pk).update(paused_reason="", failures_in_a_row=0)
        task = PeriodicTask.objects.select_for_update().get(pk=schedule.periodic_task_id)
        task.enabled = True
        # Counted from now: resuming must not send at once the runs missed while paused.
        task.last_run_at = timezone.now()
        task.save()
    schedule.paused_reason, schedule.failures_in_a_row = "", 0


def schedule_delete(*, schedule: ReportSchedule) -> None:
    """The schedule and its PeriodicTask; exports it made stay until they expire."""
    with transaction.atomic():
        PeriodicTask.objects.filter(pk=schedule.periodic_task_id).delete()  # cascades to our row


def schedules_follow_time_zone(*, user: AbstractBaseUser, time_zone: str) -> int:
    """The person changed their time zone: their schedules keep their local time in the new zone."""
    moved = 0
    for schedule in ReportSchedule.objects.filter(owner_id=user.pk).select_related("owner"):
        schedule.time_zone = time_zone
        schedule.save(update_fields=["time_zone"])
        _sync_task(schedule)
        moved += 1
    return moved


def schedule_describe(*, schedule: ReportSchedule) -> str:
    at = schedule.at.strftime("%H:%M")
    if schedule.frequency == ReportSchedule.Frequency.WEEKLY:
        when = f"Every {_WEEKDAYS[schedule.day_of_week]} at {at}"
    elif schedule.frequency == ReportSchedule.Frequency.MONTHLY:
        when = f"On day {schedule.day_of_month} of every month at {at}"
    else:
        when = f"Every day at {at}"
    days = "the day of the run" if schedule.range_days == 1 else f"the last {schedule.range_days} days"
    return f"{when} ({schedule.time_zone.replace('_', ' ')}), {days}"


def schedule_run(*, schedule_id: int) -> dict[str, Any]:
    """One run: the export of the days the schedule covers, sent on commit; its email follows
    when it is built. Called through config.ops.periodic.run_periodic (one run per period)."""
    schedule = ReportSchedule.objects.select_related("owner", "periodic_task").filter(pk=schedule_id).first()
    if schedule is None:
        return {"skipped": "no such schedule"}
    if not schedule.periodic_task.enabled:
        return {"skipped": "paused"}
    zone = zoneinfo.ZoneInfo(schedule.time_zone)
    today = timezone.localdate(timezone.now(), zone)
    export = export_request(
        user=schedule.owner,
        kind=schedule.kind,
        date_from=today - timedelta(days=schedule.range_days - 1),
        date_to=today,
        format=schedule.format,
        columns=schedule.columns,
        filters=schedule.filters,
        schedule=schedule,
    )
    ReportSchedule.objects.filter(pk=schedule.pk).update(last_run_at=timezone.now())
    return {"schedule_id": schedule.pk, "export_id": export.pk, "task_id": export.job.task_id}


def _schedule_succeeded(schedule_id: int | None) -> None:
    if schedule_id is not None:
        ReportSchedule.objects.filter(pk=schedule_id).update(failures_in_a_row=0)


def _schedule_failed(schedule_id: int | None, message: str) -> None:
    """Count a failed run; the third in a row pauses the schedule and says why. Inside the
    transaction that failed the export, so the count and the export's state agree."""
    if schedule_id is None:
        return
    ReportSchedule.objects.filter(pk=schedule_id).update(failures_in_a_row=F("failures_in_a_row") + 1)
    schedule = ReportSchedule.objects.filter(pk=schedule_id).first()
    if schedule is not None and schedule.failures_in_a_row >= ReportSchedule.MAX_FAILURES:
        reason = MESSAGE_PAUSED.format(n=schedule.failures_in_a_row, error=message)
        schedule_pause(schedule=schedule, reason=reason)
