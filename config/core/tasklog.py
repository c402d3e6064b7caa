"""How a worker logs a failed task: an expected failure is one WARNING line, without a traceback.

Celery's tracer logs every exception a task raises as "Task <name>[<id>] raised unexpected: …" at
ERROR with its traceback, unless the task lists it in ``Task.throws`` (then at INFO, and the
exception itself is no longer at hand). A bad picture is no bug: its job fails with a sentence for
its owner, and a traceback per upload would drown the ones that matter. So this filter, on the
tracer's logger, rewrites the record of an expected failure (a HumanError: the job's owner is told
why) as one WARNING line with the task's name and id and that sentence. Anything else keeps its
traceback at ERROR. Installed once, in config/celery_app.py, it applies to every Backroom task.
"""

from __future__ import annotations

import logging

from .errors import HumanError

TRACE_LOGGER = "celery.app.trace"
EXPECTED_FAILURES: tuple[type[BaseException], ...] = (HumanError,)


class ExpectedFailureFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, EXPECTED_FAILURES):
            data = getattr(record, "data", None) or {}
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
            record.msg = "Task %s[%s] failed: %s"
            record.args = (data.get("name"), data.get("id"), _one_line(getattr(exc, "message", str(exc))))
            record.exc_info = record.exc_text = None
        return True


def install() -> None:
    logger = logging.getLogger(TRACE_LOGGER)
    if not any(isinstance(f, ExpectedFailureFilter) for f in logger.filters):
        logger.addFilter(ExpectedFailureFilter())


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
