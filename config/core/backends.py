"""django-celery-results' database backend, also keeping the job row in step.

Celery calls the backend on every path that ends a task: in the pool process for ordinary success,
failure and retry, and in the worker's main process for a hard time limit or a lost worker. Hooking
here (rather than task callbacks) is what lets the job row follow all of them.
"""

from __future__ import annotations

import logging

from celery import states
from django.db import DatabaseError, InterfaceError, connections, transaction
from django_celery_results.backends.database import DatabaseBackend

from .errors import MESSAGE_CANCELLED, human_message

RETRY_MESSAGE = "A temporary problem interrupted this job; it will be retried shortly."

logger = logging.getLogger(__name__)


class JobResultBackend(DatabaseBackend):
    def mark_as_done(self, task_id, result, request=None, store_result=True, state=states.SUCCESS):
        from . import services  # noqa: PLC0415 - Celery imports the backend by name; services needs the app registry

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
        from . import services  # noqa: PLC0415 - Celery imports the backend by name; services needs the app registry

        message = human_message(exc)
        with transaction.atomic():
            moved = services.job_finish(task_id=task_id, state=states.FAILURE, error=message)
            if moved is False:
                return None
            # The business row (an image, an export) fails in the same transaction as its job: a
            # worker that dies in between must not leave a FAILURE job beside a PROCESSING image,
            # which no sweep would ever look at again (the job is final).
            self._settle_business_row(task_id, message, request)
            return super().mark_as_failure(
                task_id, exc, traceback, request, store_result, call_errbacks, state
            )

    def mark_as_revoked(self, task_id, reason="", request=None, store_result=True, state=states.REVOKED):
        """A revoke cancels the job: ours (job_cancel, which got here first) or one sent from
        elsewhere (Flower, `celery control revoke`), which must not leave the job STARTED."""
        from . import services  # noqa: PLC0415 - Celery imports the backend by name; services needs the app registry

        with transaction.atomic():
            moved = services.job_finish(
                task_id=task_id, state=services.State.CANCELLED, error=MESSAGE_CANCELLED
            )
            if moved:
                task, args, kwargs = self._task_and_arguments(request)
                if task is not None:
                    services.job_settle_cancel(task=task, task_id=task_id, args=args, kwargs=kwargs)
            elif moved is False and not services.job_is_cancelled(task_id=task_id):
                return None  # finished before the revoke arrived: its outcome stands
            return super().mark_as_revoked(task_id, reason, request, store_result, state)

    def _task_and_arguments(self, request):
        name = getattr(request, "task", None) or getattr(request, "name", None)
        task = self.app.tasks.get(name) if name else None
        args = getattr(request, "args", None) or ()
        kwargs = getattr(request, "kwargs", None) or {}
        return task, args, kwargs

    def _settle_business_row(self, task_id, message, request) -> None:
        task, args, kwargs = self._task_and_arguments(request)
        name = getattr(task, "name", None)
        settle = getattr(task, "settle_failure", None)
        if settle is None:
            return
        try:
            with transaction.atomic():  # a savepoint: a broken hook must not keep the job unfinished
                settle(message, task_id, *args, **kwargs)
        except Exception:
            logger.exception("job %s: could not settle its business row (%s)", task_id, name)

    def _store_result(self, task_id, result, status, traceback=None, request=None, using=None):
        """Write the TaskResult row in one INSERT … ON CONFLICT DO UPDATE.

        django-celery-results does get_or_create (SELECT, SAVEPOINT, INSERT, RELEASE) and then a
        save: four or five statements per task, run while mark_as_done holds the write lock.
        The upsert stores the same fields in one. STARTED (date_started = now), and databases
        without ON CONFLICT (…) DO UPDATE (MySQL), keep the original.
        """
        manager = self.TaskModel._default_manager.db_manager(using)
        upsert = connections[manager.db].features.supports_update_conflicts_with_target
        if status == states.STARTED or not upsert:
            return super()._store_result(task_id, result, status, traceback, request, using)
        content_type, content_encoding, encoded = self.encode_content(result)
        meta = {**self._get_meta_from_request(request), "children": self.current_task_children(request)}
        fields = {
            "status": status,
            "result": encoded,
            "traceback": traceback,
            "meta": self.encode_content(meta)[2],
            "content_encoding": content_encoding,
            "content_type": content_type,
            **self._get_extended_properties(request, traceback),
        }
        manager.bulk_create(
            [self.TaskModel(task_id=task_id, **fields)],
            update_conflicts=True,
            unique_fields=["task_id"],
            update_fields=[*fields, "date_done"],
        )
        return encoded

    def mark_as_retry(
        self, task_id, exc, traceback=None, request=None, store_result=True, state=states.RETRY
    ):
        from . import services  # noqa: PLC0415 - Celery imports the backend by name; services needs the app registry

        # The retry is already in the broker when Celery records it. A database that is away (a
        # restart: the very error being retried) must not turn that into a failure: Celery fails
        # the task when this raises, and the retry then finds its job final and never runs.
        try:
            services.job_retrying(task_id=task_id, error=RETRY_MESSAGE)
            return super().mark_as_retry(task_id, exc, traceback, request, store_result, state)
        except (DatabaseError, InterfaceError) as db_exc:
            logger.warning("job %s: retry sent but not recorded (database unavailable: %s)", task_id, db_exc)
            connections.close_all()
            return None


def _jsonable(result):
    if result is None or isinstance(result, (dict, list, str, int, float, bool)):
        return result
    return repr(result)
