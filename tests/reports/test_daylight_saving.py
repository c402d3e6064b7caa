"""Daylight saving (issue 16.4): a person's 02:30 report across both transitions of 2026, in
Europe/Berlin and America/New_York, on the real scheduler code with a controlled clock.

The schedule is made by our service (a CrontabSchedule in the person's zone and its PeriodicTask)
and read by django-celery-beat's own ModelEntry, as the DatabaseScheduler reads it; each run is
recorded as beat records it (``next(entry)``, ``entry.save()``) and sent with the options our
LeaderDatabaseScheduler gives it. Only the clock is ours: the entry's ``_default_now`` and its
crontab's ``nowfun`` read it, and it moves as beat's loop does, by the delay ``is_due`` answers
(capped, as beat caps its sleep), so every moment the scheduler would look at is looked at.

- Spring forward: 02:30 does not exist that night; the run comes once, at 03:30 summer time.
- Fall back: in Berlin 02:30 happens twice (summer, then winter time): the run comes once, at the
  first. In New York the hour that repeats is 01:00-02:00, so 02:30 is once, in winter time; and
  a 01:30 schedule, which that night meets twice, runs once too.

celery's crontab has had bugs on these nights (celery/celery#1604: a task ran twice at the fall
back; celery/django-celery-beat#134 and #194: runs an hour off or missed on the transition day).
With celery 5.7 and django-celery-beat 2.9 they do not bite here; these tests hold the line.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django_celery_beat import schedulers
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from config.accounts.models import Profile
from config.core import redis as shared_redis
from config.core.jobtask import EXPIRES_HEADER
from config.ops.beat import LeaderDatabaseScheduler
from reports import services

pytestmark = pytest.mark.django_db

BEAT_MAX_SLEEP = 300.0  # seconds; beat sleeps at most this long between looks (ours: 5)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now


def entry_on(clock: Clock, model: PeriodicTask) -> ModelEntry:
    """django-celery-beat's entry for the row, reading our clock instead of the wall's."""
    entry = ModelEntry(model)
    entry._default_now = clock  # what __next__ stamps as last_run_at, and start/expiry checks
    entry.schedule.nowfun = clock  # the TzAwareCrontab's "now"
    return entry


def loaded_by_beat(model: PeriodicTask, clock: Clock, monkeypatch) -> bool:
    """Whether DatabaseScheduler's own query would load the row now. Since django-celery-beat 2.8
    it leaves out crontabs whose hour is more than 2 hours from the server's, by an offset it takes
    from 1 January (so an hour off in summer); beat reloads every 5 minutes, so a row must be in the
    list by then."""
    monkeypatch.setattr(schedulers, "aware_now", clock)
    scheduler = schedulers.DatabaseScheduler.__new__(schedulers.DatabaseScheduler)
    return scheduler.enabled_models_qs().filter(pk=model.pk).exists()


def runs_between(schedule, start: datetime, end: datetime, monkeypatch) -> list[datetime]:
    """Run beat's decision loop from ``start`` to ``end``: the UTC times at which it sends."""
    clock = Clock(start)
    model = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    model.last_run_at = clock.now  # as if it last ran when the window opens
    model.save()
    entry = entry_on(clock, PeriodicTask.objects.get(pk=model.pk))
    sent = []
    for _ in range(20_000):
        if clock.now >= end:
            break
        is_due, delay = entry.is_due()
        if is_due:
            sent.append(clock.now)
            due = clock.now
            for before in (timedelta(minutes=5), timedelta(0)):
                clock.now = due - before
                assert loaded_by_beat(model, clock, monkeypatch), f"beat would not load it at {clock.now}"
            clock.now = due
            options = LeaderDatabaseScheduler._message_options(None, entry)
            # The message must live until the next run is due, not expire at once (an hour off
            # in the remaining time would make it expire before a worker sees it).
            # Beat dates the message on Redis's clock (config/ops/beat.py), not with Celery's expires.
            lives = options["headers"][EXPIRES_HEADER] - shared_redis.now()
            assert "expires" not in options and lives > 3600, (clock.now, options)
            entry = next(entry)  # beat's record of the run: last_run_at = now, count + 1
            entry.save()
            entry = entry_on(clock, PeriodicTask.objects.get(pk=model.pk))
            continue
        clock.now += timedelta(seconds=min(max(delay, 1.0), BEAT_MAX_SLEEP))
    else:
        raise AssertionError("the loop did not reach the end of the window")
    return sent


def person_schedule(make_user, zone: str, at: time):
    user = make_user()
    Profile.objects.create(user=user, time_zone=zone)
    return services.schedule_create(
        user=user,
        kind="media_inventory",
        format="csv",
        columns=["title"],
        filters={},
        frequency="daily",
        at=at,
    )


def local(day: date, hour: int, minute: int, zone: str, fold: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone), fold=fold)


CASES = [
    # zone, the transition's day, the one run that day (local wall time, fold), what happens
    ("Europe/Berlin", date(2026, 3, 29), (3, 30, 0), "spring forward: 02:00 CET -> 03:00 CEST"),
    ("Europe/Berlin", date(2026, 10, 25), (2, 30, 0), "fall back: 03:00 CEST -> 02:00 CET"),
    ("America/New_York", date(2026, 3, 8), (3, 30, 0), "spring forward: 02:00 EST -> 03:00 EDT"),
    ("America/New_York", date(2026, 11, 1), (2, 30, 0), "fall back: 02:00 EDT -> 01:00 EST"),
]


@pytest.mark.parametrize(("zone", "day", "expected", "what"), CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_a_0230_report_runs_exactly_once_on_the_transition_day(
    make_user, monkeypatch, zone, day, expected, what
):
    schedule = person_schedule(make_user, zone, time(2, 30))
    assert str(schedule.periodic_task.crontab.timezone) == zone
    start = local(day - timedelta(days=1), 12, 0, zone)
    end = local(day + timedelta(days=1), 12, 0, zone)

    sent = runs_between(schedule, start, end, monkeypatch)

    hour, minute, fold = expected
    assert sent == [
        local(day, hour, minute, zone, fold).astimezone(UTC),
        local(day + timedelta(days=1), 2, 30, zone).astimezone(UTC),
    ], f"{what}: {[s.astimezone(ZoneInfo(zone)).isoformat() for s in sent]}"
    on_the_day = [s for s in sent if s.astimezone(ZoneInfo(zone)).date() == day]
    assert len(on_the_day) == 1, what


def test_new_york_0130_on_the_fall_back_night_runs_once_though_the_hour_comes_twice(make_user, monkeypatch):
    zone, day = "America/New_York", date(2026, 11, 1)
    schedule = person_schedule(make_user, zone, time(1, 30))
    window = (local(day - timedelta(days=1), 12, 0, zone), local(day, 23, 0, zone))
    sent = runs_between(schedule, *window, monkeypatch)
    assert sent == [local(day, 1, 30, zone, fold=0).astimezone(UTC)], [s.isoformat() for s in sent]
