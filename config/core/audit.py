"""The staff audit trail: Django's admin log (LogEntry) for every admin change.

The admin writes a LogEntry itself for each add, change and delete made through a form (user
changes, quota overrides, schedule edits). Admin actions (retry, run now, cancel, re-run, resend)
write none, so :func:`audited` wraps each one: a LogEntry per selected object with who, when, the
action and its outcome ("done: …" or "failed: …"). One table for both, so one admin list filters
them all; it is read-only there (config/core/admin.py).
"""

from __future__ import annotations

import functools
import logging

from django.contrib import messages
from django.contrib.admin.models import CHANGE, LogEntry

logger = logging.getLogger(__name__)


def record(*, request, objects, action: str, outcome: str) -> None:
    objects = list(objects)
    if not objects:
        return
    model = type(objects[0])
    queryset = model._default_manager.filter(pk__in=[o.pk for o in objects])
    LogEntry.objects.log_actions(
        user_id=request.user.pk,
        queryset=queryset,
        action_flag=CHANGE,
        change_message=f"{action}: {outcome}"[:2000],
    )


def audited(fn):
    """For an admin action: record it, with its outcome, against every object it was given."""

    @functools.wraps(fn)
    def action(modeladmin, request, queryset):
        # Set by @admin.action on this wrapper, after this decorator ran.
        description = getattr(action, "short_description", None) or fn.__name__.replace("_", " ")
        selected = list(queryset)
        stored = []
        original = modeladmin.message_user

        def capture(req, message, level=messages.INFO, *args, **kwargs):
            stored.append((level, str(message)))
            return original(req, message, level, *args, **kwargs)

        modeladmin.message_user = capture
        try:
            result = fn(modeladmin, request, queryset)
        except Exception as exc:
            record(request=request, objects=selected, action=description, outcome=f"failed: {exc}")
            raise
        finally:
            del modeladmin.message_user
        failed = [m for level, m in stored if level >= messages.ERROR]
        outcome = f"failed: {failed[0]}" if failed else "done: " + ("; ".join(m for _, m in stored) or "ok")
        record(request=request, objects=selected, action=description, outcome=outcome)
        return result

    return action
