"""The ops jobs know nothing of the apps: each app registers its sweeps, figures and failures."""

from __future__ import annotations

import ast
import re
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from config.core.errors import HumanError
from config.core.models import Job
from config.ops import services
from config.ops.registry import Swept, registry
from media_app.models import Image
from media_app.services import MESSAGE_UNFINISHED
from reports.models import MESSAGE_STOPPED, Export

ROOT = Path(settings.BASE_DIR)
APPS = ("media_app", "reports", "notifications")
# The URL conf mounts the apps; settings list them; the accounts service is being moved out.
ALLOWED = {"config/urls.py", "config/core/services_accounts.py"}
MODEL_LABEL = re.compile(rf"^({'|'.join(APPS)})\.[A-Z]\w*$")


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found += [f"imports {n}" for n in names if n.split(".")[0] in APPS]
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and MODEL_LABEL.match(node.value):
            found.append(f"names the model {node.value}")
    return found


def test_no_module_under_config_imports_an_app_or_names_its_models():
    offences = []
    for path in sorted((ROOT / "config").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in ALLOWED or rel.startswith(("config/settings/", "config/ops/migrations/")):
            continue
        offences += [f"{rel}: {what}" for what in _offences(path)]
    assert offences == []


def test_every_app_registers_its_sweeps_and_figures():
    sweeps = dict(registry.sweeps())
    assert {
        "media_app.orphaned_files",
        "media_app.unsettled_images",
        "reports.expired_exports",
        "reports.orphaned_files",
        "reports.temp_files",
        "reports.unsettled_exports",
    } <= set(sweeps)
    figures = dict(registry.all_figures())
    assert {"media_app.images", "reports.exports", "notifications.emails"} <= set(figures)
    assert "media_app.images" in dict(registry.all_failure_reasons())
    # The options the seeded schedule passes are all read by some sweep.
    assert {"export_grace_hours", "orphan_grace_hours", "prefixes"} <= registry.sweep_options()


def final_job(user, task_name: str, pk: int, state: str, error: str = "") -> Job:
    return Job.objects.create(
        task_id=str(uuid.uuid4()),
        owner=user,
        kind="k",
        task_name=task_name,
        args=[pk],
        state=state,
        error=error,
        finished_at=timezone.now(),
    )


@pytest.mark.django_db(transaction=True)
def test_rows_left_running_behind_a_final_job_are_settled_by_the_cleanup(user):
    """The hook that settles a row in its job's transaction can break, or predate the row; the
    cleanup then settles it from the app's own models."""
    processing = Image.objects.create(owner=user, original="media/x/a.jpg", state=Image.State.PROCESSING)
    processing.job = final_job(user, "media_app.compress_image", processing.pk, "FAILURE", "Cut off.")
    pending = Image.objects.create(owner=user, original="media/x/b.jpg", state=Image.State.PENDING)
    pending.job = final_job(user, "media_app.compress_image", pending.pk, "SUCCESS")
    running = Image.objects.create(owner=user, original="media/x/c.jpg", state=Image.State.PROCESSING)
    running.job = final_job(user, "media_app.compress_image", running.pk, "PROGRESS")
    for image in (processing, pending, running):
        Image.objects.filter(pk=image.pk).update(job=image.job)
    export = Export.objects.create(owner=user, kind=Export.Kind.JOB_HISTORY, state=Export.State.STARTED)
    export_job = final_job(user, "reports.build_export", export.pk, "SUCCESS")
    Export.objects.filter(pk=export.pk).update(job=export_job)

    summary = services.cleanup_run()

    assert summary["rows_settled"] == 3
    processing.refresh_from_db()
    assert (processing.state, processing.error) == (Image.State.FAILED, "Cut off.")
    pending.refresh_from_db()
    assert (pending.state, pending.error) == (Image.State.FAILED, MESSAGE_UNFINISHED)
    assert Image.objects.get(pk=running.pk).state == Image.State.PROCESSING  # its job is alive
    export.refresh_from_db()
    assert (export.state, export.error) == (Export.State.FAILURE, MESSAGE_STOPPED)
    assert export.expires_at is not None  # history now: the expiry sweep removes it later
    assert services.cleanup_run()["rows_settled"] == 0


@pytest.mark.django_db(transaction=True)
def test_an_unknown_cleanup_option_is_refused_before_anything_runs():
    with pytest.raises(HumanError) as refused:
        services.cleanup_run(orphan_grace_hour=1)
    assert "orphan_grace_hour" in refused.value.message


@pytest.mark.django_db(transaction=True)
def test_a_broken_sweep_does_not_stop_the_others(monkeypatch):
    ran = []

    def broken(batch_size: int = 1000) -> Swept:
        raise RuntimeError("storage exploded")

    def counting(batch_size: int = 1000) -> Swept:
        ran.append(batch_size)
        return Swept(files=1, counts={"counted": 1})

    monkeypatch.setattr(registry, "_sweeps", {"t.broken": broken, "t.counting": counting})
    with pytest.raises(RuntimeError, match="storage exploded"):
        services.cleanup_run(batch_size=7)
    assert ran == [7]
