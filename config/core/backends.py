"""django-celery-results' database backend, also keeping the job row in step.

Celery calls the backend on every path that ends a task: in the pool process for ordinary success,
failure and retry, and in the worker's main process for a hard time limit or a lost worker. Hooking
here (rather than task callbacks) is what lets the job row follow all of them.
"""

from __future__ import annotations

import logging

from celery import states
from django.db import transaction
from django_celery_results.backends.database import DatabaseBackend

from .errors import human_message

RETRY_MESSAGE = "A temporary problem interrupted this job; it will be retried shortly."

logger = logging.getLogger(__name__)


class JobResultBackend(DatabaseBackend):
    def mark_as_done(self, task_id, result, request=None, store_result=True, state=states.SUCCESS):
        from . import services

        with transaction.atomic():
            moved = services.job_finish(task_id=task_id, state=states.SUCCESS, result=_jsonable(result))
            if moved is False:
                return None  # already final: a duplicate must not rewrite the outcome
            return super().mark_as_done(task_id, result, request, store_result, state)

    def mark_as_failure(
        self,
        task_id,
        exc,
        traceback=None,
        request=None,
        store_result=True,
        call_errbacks=True,
        state=states.FAILURE,
    ):
        from . import services

        message = human_message(exc)
        with transaction.atomic():
            moved = services.job_finish(task_id=task_id, state=states.FAILURE, error=message)
            if moved is False:
                return None
            return super().mark_as_failure(
                task_id, exc, traceback, request, store_result, call_errbacks, state
            )

    def mark_as_retry(
        self, task_id, exc, traceback=None, request=None, store_result=True, state=states.RETRY
    ):
        from . import services

        services.job_retrying(task_id=task_id, error=RETRY_MESSAGE)
        return super().mark_as_retry(task_id, exc, traceback, request, store_result, state)


def _jsonable(result):
    if result is None or isinstance(result, (dict, list, str, int, float, bool)):
        return result
    return repr(result)
