"""Django's Tasks API (``django.tasks``) on Backroom's job layer and Celery workers.

A ``@task`` function enqueued through :class:`BackroomTaskBackend` becomes a job like any other:
its row is written in the caller's transaction (config.core.services.job_create), its message is
sent on commit with the job's own id, a refused publish raises BrokerUnavailable (503; the job
stays QUEUED and job_redispatch sends it later), and ``get_result(id)`` reads the job row. On the
worker one Celery task, ``core.run_django_task`` (config/core/tasks.py), imports the function by
its module path and runs it under JobTask, so leases, cancel, crash counting and the result
backend treat it like every other job.

Settings: ``TASKS = {"default": {"BACKEND": "config.core.tasks_backend.BackroomTaskBackend"}}``.
``QUEUES`` defaults to the queues our workers consume (CELERY_TASK_ROUTES) and may only name those;
``OPTIONS = {"DEFER_IF_BROKER_DOWN": True}`` makes an alias for side jobs (emails) whose request
must succeed with the broker down. Django's ``task()`` takes no options of its own, so an option
per task is an alias per option.

Capability flags, and why:

- ``supports_defer = True``: ``run_after`` becomes the message's ETA. A worker holds an ETA
  message unacknowledged until it is due, and Redis hands an unacknowledged message to another
  worker after the visibility timeout, so ``run_after`` may be at most BACKROOM_MAX_COUNTDOWN
  seconds ahead (the same bound as a retry's countdown); further is refused (InvalidTask).
- ``supports_async_task = True``: a coroutine function runs on the worker through
  ``Task.call`` (asgiref's async_to_sync, an event loop per call). Workers are prefork processes:
  it is correct, not concurrent.
- ``supports_get_result = True``: the job row is in the database, readable from any process.
- ``supports_priority = True``, on Redis only: Redis serves Celery priority 0 first, and 0 is what
  every other Backroom task sends. Django's priority 0 and above therefore stay 0 (there is nothing
  to jump ahead of), and negative priorities go behind the default work, in kombu's steps 3, 6 and
  9 (:func:`celery_priority`). On RabbitMQ our queues declare no x-max-priority: none is sent.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.module_loading import import_string

from config.celery_app import app

try:  # Django 6.0 and later: the standard library of Django itself.
    from django.tasks import (
        TaskContext,
        TaskResult,
        TaskResultStatus,
        default_task_backend,
        task,
        task_backends,
    )
    from django.tasks.backends.base import BaseTaskBackend
    from django.tasks.base import Task, TaskError
    from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
except ImportError:  # Django 5.2: the django-tasks backport, the same API under another name.
    from django_tasks import (  # type: ignore[no-redef]
        TaskContext,
        TaskResult,
        TaskResultStatus,
        default_task_backend,
        task,
        task_backends,
    )
    from django_tasks.backends.base import BaseTaskBackend  # type: ignore[no-redef]
    from django_tasks.base import Task, TaskError  # type: ignore[no-redef]
    from django_tasks.exceptions import InvalidTaskError as InvalidTask  # type: ignore[no-redef]
    from django_tasks.exceptions import TaskResultDoesNotExist  # type: ignore[no-redef]

__all__ = [
    "BackroomTaskBackend",
    "InvalidTask",
    "Task",
    "TaskContext",
    "TaskResult",
    "TaskResultDoesNotExist",
    "TaskResultStatus",
    "default_task_backend",
    "job_kind",
    "owned_by",
    "task",
    "task_backends",
]

RUN_TASK = "core.run_django_task"
# Retries of a task that raised TransientError (config/core/tasks.py), after the first try.
MAX_RETRIES = 5

_owner: contextvars.ContextVar = contextvars.ContextVar("backroom_task_owner", default=None)


@contextmanager
def owned_by(user) -> Iterator[None]:
    """Jobs enqueued inside belong to ``user``: they show on the owner's pages and /tasks/<id>/.

    The Tasks API has no notion of an owner, and ``enqueue`` takes only the function's arguments.
    """
    token = _owner.set(user)
    try:
        yield
    finally:
        _owner.reset(token)


def job_kind(kind: str):
    """Name the job's kind (the admin's and the metrics' grouping); the module path otherwise.

    Put it under ``@task``: ``@task(...)`` then ``@job_kind("notifications.email")`` then the def.
    """

    def mark(func):
        func.job_kind = kind
        return func

    return mark


def celery_priority(priority: int) -> int | None:
    """Django's -100..100 (higher first) as a Celery priority on Redis (0 first, 9 last)."""
    if priority >= 0:
        return None  # 0, what every other task is sent with, is already served first
    return 3 if priority >= -33 else 6 if priority >= -66 else 9


def worker_queues() -> set[str]:
    """The queues our workers consume: the default queue and every routed one."""
    routes = getattr(settings, "CELERY_TASK_ROUTES", {}) or {}
    queues = {route["queue"] for route in routes.values() if isinstance(route, dict) and "queue" in route}
    return queues | {settings.CELERY_TASK_DEFAULT_QUEUE}


class BackroomTaskBackend(BaseTaskBackend):
    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict) -> None:
        super().__init__(alias, params)
        known = worker_queues()
        if "QUEUES" not in params:
            self.queues = known
        unknown = self.queues - known
        if unknown:
            raise ImproperlyConfigured(
                f"TASKS[{alias!r}] QUEUES names {sorted(unknown)}, which no worker consumes "
                f"(CELERY_TASK_ROUTES has {sorted(known)})."
            )
        self.defer_if_broker_down = bool(self.options.get("DEFER_IF_BROKER_DOWN", False))

    def validate_task(self, task: Task) -> None:
        super().validate_task(task)
        if task.run_after is not None:
            ahead = (task.run_after - timezone.now()).total_seconds()
            if ahead > settings.BACKROOM_MAX_COUNTDOWN:
                raise InvalidTask(
                    f"run_after may be at most {settings.BACKROOM_MAX_COUNTDOWN} seconds ahead "
                    f"(BACKROOM_MAX_COUNTDOWN, below the broker's visibility timeout); "
                    f"this one is {int(ahead)} seconds ahead."
                )

    def enqueue(self, task: Task, args, kwargs) -> TaskResult:
        """Write the job row now, in the caller's transaction; send its message on commit."""
        from .services import job_create  # noqa: PLC0415 - django.tasks imports this backend by name; services needs the registry

        self.validate_task(task)
        call = {
            "path": task.module_path,
            "args": list(args),
            "kwargs": dict(kwargs),
            "task": {
                "priority": task.priority,
                "queue_name": task.queue_name,
                "backend": self.alias,
                "run_after": task.run_after.isoformat() if task.run_after else None,
            },
        }
        send_options: dict = {"queue": task.queue_name}
        priority = celery_priority(task.priority) if _redis_broker() else None
        if priority is not None:
            send_options["priority"] = priority
        if task.run_after is not None and task.run_after > timezone.now():
            send_options["eta"] = task.run_after.isoformat()
        job = job_create(
            owner=_owner.get(),
            kind=(getattr(task.func, "job_kind", None) or task.module_path)[:64],
            task_name=RUN_TASK,
            kwargs=call,
            defer_if_broker_down=self.defer_if_broker_down,
            send_options=send_options,
        )
        return self._result(job, task)

    def get_result(self, result_id: str) -> TaskResult:
        from .models import Job  # noqa: PLC0415 - django.tasks imports this backend by name; models need the app registry

        job = Job.objects.filter(task_id=result_id, task_name=RUN_TASK).first()
        if job is None:
            raise TaskResultDoesNotExist(result_id)
        try:
            enqueued = import_string(job.kwargs["path"])
        except (ImportError, KeyError) as exc:
            raise TaskResultDoesNotExist(result_id) from exc
        options = job.kwargs.get("task") or {}
        as_sent = enqueued.using(
            priority=options.get("priority"), queue_name=options.get("queue_name"), backend=self.alias
        )
        return self._result(job, as_sent)

    def _result(self, job, task: Task) -> TaskResult:
        from .models import Job  # noqa: PLC0415 - django.tasks imports this backend by name; models need the app registry

        status = STATUS[job.state]
        errors, workers = [], []
        if job.attempts or job.is_final:
            errors, workers = _celery_outcome(job)
        result = TaskResult(
            task=task,
            id=job.task_id,
            status=status,
            enqueued_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            last_attempted_at=job.started_at,
            args=job.kwargs.get("args", []),
            kwargs=job.kwargs.get("kwargs", {}),
            backend=self.alias,
            errors=errors if status == TaskResultStatus.FAILED else [],
            # One entry per execution, as the API counts attempts; Celery keeps the last worker's name.
            worker_ids=[workers[0] if workers else ""] * job.attempts,
        )
        if job.state == Job.State.SUCCESS:
            object.__setattr__(result, "_return_value", job.result)
        return result


def _celery_outcome(job) -> tuple[list, list]:
    """The exception and worker that django-celery-results recorded (our job row keeps only the
    owner's sentence)."""
    from django_celery_results.models import TaskResult as CeleryResult  # noqa: PLC0415 - django.tasks imports this backend by name; models need the app registry

    from .models import Job  # noqa: PLC0415 - django.tasks imports this backend by name; models need the app registry

    row = CeleryResult.objects.filter(task_id=job.task_id).only("result", "traceback", "worker").first()
    workers = [row.worker] if row is not None and row.worker else []
    if job.state == Job.State.CANCELLED:
        return [TaskError(exception_class_path="config.core.errors.JobCancelled", traceback="")], workers
    if job.state != Job.State.FAILURE:
        return [], workers
    path = "config.core.errors.HumanError"
    if row is not None:
        try:
            exc = json.loads(row.result or "{}")
            path = f"{exc['exc_module']}.{exc['exc_type']}"
        except (ValueError, KeyError, TypeError):
            pass
    return [TaskError(exception_class_path=path, traceback=(row.traceback or "") if row else "")], workers


def _redis_broker() -> bool:
    return str(app.conf.broker_url or "").startswith(("redis://", "rediss://", "redis+socket://"))


STATUS = {
    "QUEUED": TaskResultStatus.READY,
    "RETRY": TaskResultStatus.READY,  # waiting for its next try
    "STARTED": TaskResultStatus.RUNNING,
    "PROGRESS": TaskResultStatus.RUNNING,
    "SUCCESS": TaskResultStatus.SUCCESSFUL,
    "FAILURE": TaskResultStatus.FAILED,
    # The API has no cancelled status: the result says FAILED, its error is JobCancelled.
    "CANCELLED": TaskResultStatus.FAILED,
}
