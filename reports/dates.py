"""The dates an export may cover: one rule for the form that asks and the worker that builds.

From 1 January 2000 (before any row this site can hold) to a year after today (room for a
client's time zone and for planning, nothing a calendar can overflow: 9999-12-31 plus the day
the query adds was a worker traceback). No limit on the span itself: rows cost, not days, and
REPORTS_MAX_ROWS already refuses an export that would hold too many, with a sentence.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone
from django.utils.dateformat import format as format_date

EARLIEST = date(2000, 1, 1)
AHEAD = timedelta(days=366)
MESSAGE_OUT_OF_RANGE = "Choose a date from {earliest} to {latest}."
MESSAGE_INVERTED = "The end date must be on or after the start date."


def latest(today: date | None = None) -> date:
    return (today or timezone.localdate()) + AHEAD


def _human(day: date) -> str:
    return format_date(day, "j F Y")


def date_error(day: date | None, *, today: date | None = None) -> str | None:
    """A sentence when ``day`` is outside the range, else None (no date is fine: no bound)."""
    if day is None or EARLIEST <= day <= latest(today):
        return None
    return MESSAGE_OUT_OF_RANGE.format(earliest=_human(EARLIEST), latest=_human(latest(today)))


def range_error(date_from: date | None, date_to: date | None, *, today: date | None = None) -> str | None:
    """The first sentence that makes this range impossible, else None."""
    error = date_error(date_from, today=today) or date_error(date_to, today=today)
    if error is None and date_from and date_to and date_from > date_to:
        error = MESSAGE_INVERTED
    return error
