from datetime import datetime

from celery import current_app
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask
from kombu.utils.json import loads

from config.core import redis as shared_redis
from config.core.admin import OurAdmin
from config.core.audit import audited
from config.core.jobtask import EXPIRES_HEADER

from .models import DailyStatistics

# The admin index links to the dashboard and the schedules.
admin.site.index_template = "ops/admin_index.html"


def run_now_options(periodic: PeriodicTask) -> dict:
    """The options beat would send this task with (queue, exchange, routing key, priority,
    headers, expiry), minus the slot header: a run asked for by hand is never a duplicate."""
    options = {
        name: getattr(periodic, name)
        for name in ("queue", "exchange", "routing_key", "priority")
        if getattr(periodic, name) not in (None, "")
    }
    headers = loads(periodic.headers or "{}")
    headers["periodic_task_name"] = periodic.name
    options["headers"] = headers
    # On Redis's clock, as beat's (config.ops.beat): not Celery's expires, made absolute on this
    # host's clock and compared with the worker's.
    seconds = None
    if periodic.expire_seconds:
        seconds = float(periodic.expire_seconds)
    elif periodic.expires and periodic.expires > timezone.now():
        seconds = (periodic.expires - timezone.now()).total_seconds()
    if seconds is not None:
        headers[EXPIRES_HEADER] = round(shared_redis.now() + seconds, 3)
    return options


def schedule_in_words(periodic: PeriodicTask) -> str:
    """ "every day at 03:30, Europe/Berlin", "every 5 minutes"; cron's own wording otherwise."""
    if periodic.interval_id:
        return str(periodic.interval)
    cron = periodic.crontab
    if cron is None:
        return str(periodic.schedule) if periodic.scheduler else "no schedule"
    plain = cron.day_of_week == "*" and cron.day_of_month == "*" and cron.month_of_year == "*"
    zone = str(cron.timezone)
    if plain and cron.minute.isdigit() and cron.hour.isdigit():
        return f"every day at {int(cron.hour):02d}:{int(cron.minute):02d}, {zone}"
    if plain and cron.minute.isdigit() and cron.hour == "*":
        return f"every hour at minute {int(cron.minute)}, {zone}"
    return cron.human_readable


def next_runs(periodic: PeriodicTask, count: int = 5, *, now: datetime | None = None) -> list[datetime]:
    """The next `count` times beat would send this task (in the schedule's own time zone)."""
    schedule = periodic.schedule
    moment = now or timezone.now()
    runs: list[datetime] = []
    for _ in range(count):
        if hasattr(schedule, "remaining_delta"):  # crontab
            start, delta, _now = schedule.remaining_delta(moment)
            moment = start + delta
        else:  # an interval: every run_every from now
            moment = moment + schedule.run_every
        if runs and moment <= runs[-1]:
            break  # a schedule that does not move forward (a one-off)
        runs.append(moment)
    return runs


admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class OpsPeriodicTaskAdmin(OurAdmin, PeriodicTaskAdmin):
    """django-celery-beat's admin, with a "run now" that keeps every execution option.

    The stock action keeps only the queue; priority, exchange, routing key, headers and expiry
    would be lost. Its form template is ours: the stock one carries an inline script.
    """

    change_form_template = "ops/periodictask_change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "schedule_summary"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            fieldsets.insert(1, ("When it runs", {"fields": ["schedule_summary"]}))
        return fieldsets

    @admin.display(description="Schedule")
    def schedule_summary(self, periodic: PeriodicTask) -> str:
        try:
            words = schedule_in_words(periodic)
            runs = next_runs(periodic) if periodic.enabled else []
        except Exception:  # a half-filled schedule: say so, never a 500
            return "This schedule is incomplete; save it with an interval or a crontab."
        if not periodic.enabled:
            return format_html("{} (disabled: it does not run)", words)
        items = format_html_join("", "<li>{}</li>", ((t.strftime("%a %d %b %Y, %H:%M %Z"),) for t in runs))
        return format_html('{}<br>Next runs:<ul class="next-runs">{}</ul>', words, items)

    list_display = (
        "name",
        "enabled",
        "task",
        "scheduler",
        "kwargs",
        "expire_seconds",
        "last_run_at",
        "total_run_count",
    )

    @admin.action(description="Run selected tasks now")
    @audited
    def run_tasks(self, request, queryset):
        app = self.celery_app or current_app
        app.loader.import_default_modules()
        periodics = list(queryset)
        missing = [p.task for p in periodics if p.task not in app.tasks]
        if missing:
            self.message_user(request, f'task "{missing[0]}" not found', level=messages.ERROR)
            return
        for periodic in periodics:
            app.send_task(
                periodic.task,
                args=loads(periodic.args or "[]"),
                kwargs=loads(periodic.kwargs or "{}"),
                **run_now_options(periodic),
            )
        self.message_user(request, f"{len(periodics)} task(s) sent.", messages.SUCCESS)


@admin.register(DailyStatistics)
class DailyStatisticsAdmin(OurAdmin):
    list_display = (
        "day",
        "uploads",
        "bytes_in",
        "bytes_out",
        "bytes_saved",
        "saving_percent",
        "processing_p50_ms",
        "processing_p95_ms",
        "failures",
        "exports",
        "emails_sent",
        "computed_at",
    )
    date_hierarchy = "day"

    def has_add_permission(self, request):
        return False  # rows are computed by the statistics job

    def has_change_permission(self, request, obj=None):
        return False
