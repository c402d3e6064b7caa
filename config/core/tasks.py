"""The worker side of Django's Tasks API (config/core/tasks_backend.py)."""

from __future__ import annotations

from celery import shared_task
from django.utils.module_loading import import_string

from .errors import HumanError, TransientError
from .tasks_backend import MAX_RETRIES, RUN_TASK, Task, TaskContext, task_backends


@shared_task(name=RUN_TASK, bind=True, max_retries=MAX_RETRIES)
def run_django_task(self, path: str, args: list | None = None, kwargs: dict | None = None, task=None):
    """Run the ``@task`` function at ``path``. Its return value becomes the job's result.

    The base class is JobTask, as for every task: a cancelled or finished job never runs, a job
    running elsewhere waits. A TransientError is retried with backoff (``retry_after`` seconds
    when it says); anything else fails the job with a sentence for its owner.
    """
    try:
        target = import_string(path)
    except ImportError as exc:
        raise HumanError("This job's code is no longer part of the site.") from exc
    if not isinstance(target, Task):
        raise HumanError("This job's code is no longer a task.")
    args, kwargs = list(args or ()), dict(kwargs or {})
    try:
        if target.takes_context:
            alias = (task or {}).get("backend") or target.backend
            context = TaskContext(task_result=task_backends[alias].get_result(self.request.id))
            return target.call(context, *args, **kwargs)
        return target.call(*args, **kwargs)
    except TransientError as exc:
        countdown = getattr(exc, "retry_after", None) or self.backoff(self.request.retries)
        raise self.retry(exc=exc, countdown=countdown) from exc
