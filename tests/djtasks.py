"""@task functions for the Tasks API tests (config/core/tasks_backend.py). The worker imports them
by module path, as it would a product's."""

from pathlib import Path

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import path
from django.utils import timezone

from config.core.errors import HumanError, TransientError
from config.core.tasks_backend import TaskContext, task


@task
def add(a: int, b: int) -> dict:
    return {"sum": a + b, "at": timezone.now().isoformat()}


@task(takes_context=True, queue_name="reports", priority=-50)
def flaky(context: TaskContext, marker: str) -> dict:
    """Fails once with a TransientError (the marker file remembers), then succeeds."""
    if not Path(marker).exists():
        Path(marker).write_text("failed once")
        raise TransientError("the remote end said try later", retry_after=0.2)
    return {"attempt": context.attempt, "id": context.task_result.id}


@task
async def async_echo(value: str) -> dict:
    return {"value": value}


@task
def fail() -> None:
    raise HumanError("That file is not an image we can read.")


# A view for the broker-down test (tests/core/test_tasks_api.py): it enqueues in the request's
# transaction, as a product view does, on the default alias and on the "side" one.
@login_not_required
def enqueue_view(request):
    from django.db import transaction

    alias = request.GET.get("alias", "default")
    with transaction.atomic():
        result = add.using(backend=alias).enqueue(int(request.GET["a"]), 1)
    return JsonResponse({"task_id": result.id}, status=202)


urlpatterns = [path("enqueue/", enqueue_view)]
