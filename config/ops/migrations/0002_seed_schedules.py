"""Seed the default schedules of the periodic jobs.

Each row is created only if no periodic task of that name exists: what an admin changed (schedule,
keyword arguments, enabled) is never overwritten, and a deleted row is not brought back by a later
migration of this app (only this one seeds). Reversing leaves the rows alone for the same reason.
"""

import json

from django.conf import settings
from django.db import migrations
from django.utils import timezone

HOUR = 3600
DAY = 24 * HOUR


def interval(apps, every, period):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    found = IntervalSchedule.objects.filter(every=every, period=period).order_by("pk").first()
    return found or IntervalSchedule.objects.create(every=every, period=period)


def crontab(apps, minute, hour):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    fields = {
        "minute": minute,
        "hour": hour,
        "day_of_week": "*",
        "day_of_month": "*",
        "month_of_year": "*",
        "timezone": settings.TIME_ZONE,
    }
    found = CrontabSchedule.objects.filter(**fields).order_by("pk").first()
    return found or CrontabSchedule.objects.create(**fields)


def seed(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    defaults = [
        (
            "cleanup",
            {
                "task": "ops.cleanup",
                "crontab": crontab(apps, minute="30", hour="3"),
                "kwargs": {
                    "export_grace_hours": 0,
                    "orphan_grace_hours": 24,
                    "result_retention_days": 30,
                    "batch_size": 1000,
                    "stuck_after_seconds": None,
                },
                "expire_seconds": DAY,
                "description": (
                    "Nightly at 03:30 (TIME_ZONE): expired exports, files no row references "
                    "(older than orphan_grace_hours), task results older than "
                    "result_retention_days, jobs that stopped responding."
                ),
            },
        ),
        (
            "statistics",
            {
                "task": "ops.statistics",
                "interval": interval(apps, 1, "hours"),
                "kwargs": {"days_back": 1},
                "expire_seconds": HOUR,
                "description": "Hourly: recompute the daily statistics of today and the day before.",
            },
        ),
        (
            "redispatch",
            {
                "task": "ops.redispatch",
                "interval": interval(apps, 60, "seconds"),
                "kwargs": {"older_than_seconds": None, "limit": 500},
                "expire_seconds": 60,
                "description": (
                    "Every minute: send jobs left QUEUED because the broker was down "
                    "(older_than_seconds null means BACKROOM_REDISPATCH_AFTER)."
                ),
            },
        ),
    ]
    created = False
    for name, fields in defaults:
        fields = {**fields, "kwargs": json.dumps(fields["kwargs"])}
        _, made = PeriodicTask.objects.get_or_create(name=name, defaults=fields)
        created = created or made
    if created:
        # Historical models send no signals: tell a running beat that the schedule changed.
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0001_daily_statistics"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
