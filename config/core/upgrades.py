"""Migrations the previous release's code survives (`manage.py check`, and `migrate` before it runs).

``release`` migrates while the old web and workers still run and their messages wait in the
queues, so every migration of ours must leave a schema the old code can read and write: **expand
first, contract later**. A migration is refused (core.E010) when an operation would break that
code at once:

- ``RemoveField``, ``DeleteModel``, ``RenameField``, ``RenameModel``, ``AlterModelTable``: the old
  code still selects, inserts and joins the column or table by its old name;
- ``AddField`` of a NOT NULL column without ``db_default``: the old code's INSERTs leave the column
  out (Django's ``default=`` lives in Python only, so the database refuses the row);
- ``AlterField`` that makes a nullable column NOT NULL without ``db_default``, or renames its column.

A column goes in two releases: stop using it (and make it nullable or give it a ``db_default``),
then drop it in a later release's migration marked ``contract = True`` on its ``Migration`` class,
once no process of the release that used it is left. ``RunPython``/``RunSQL`` and type changes are
not judged here: read them.

BEFORE_THE_RULE lists the migrations that shipped before this check existed (each adds NOT NULL
columns with a Python default): an install upgraded across one of them stops its web and workers
for that release. Nothing is added to it: a new migration is expand-only or marked ``contract``.
"""

from __future__ import annotations

import sysconfig
from collections.abc import Iterator
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, register
from django.db import migrations
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState
from django.db.models.fields import NOT_PROVIDED

BEFORE_THE_RULE = frozenset(
    {
        ("core", "0003_job_send_options"),
        ("media_app", "0004_focal_placeholder_avif"),
        ("media_app", "0005_image_content_sha256"),
        ("ops", "0003_daily_statistics_bytes_saved"),
        ("reports", "0003_formats_columns_filters_schedules"),
    }
)

DROPS = (
    migrations.RemoveField,
    migrations.DeleteModel,
    migrations.RenameField,
    migrations.RenameModel,
    migrations.AlterModelTable,
)


def _ours() -> set[str]:
    """Labels of the apps in this checkout (third-party apps' migrations come with a pin bump).
    A virtualenv may live inside the checkout (``.venv``): installed packages are never ours."""
    root = Path(settings.BASE_DIR).resolve()
    installed = {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
    return {
        a.label
        for a in apps.get_app_configs()
        if (path := Path(a.path).resolve()).is_relative_to(root)
        and not any(path.is_relative_to(lib) for lib in installed)
    }


def _no_db_default(field) -> bool:
    return getattr(field, "db_default", NOT_PROVIDED) is NOT_PROVIDED


def breaks_old_code(operation, state: ProjectState, app_label: str) -> str | None:
    """Why ``operation`` (applied to ``state``) would break the code of the release before, or None."""
    if isinstance(operation, DROPS):
        return f"{operation.describe()}: the running release still uses the old name"
    if isinstance(operation, migrations.AddField):
        field = operation.field
        if not field.null and not field.many_to_many and _no_db_default(field):
            return (
                f"adds {operation.model_name}.{operation.name} NOT NULL without db_default: "
                "the running release's INSERTs leave it out"
            )
    if isinstance(operation, migrations.AlterField):
        old = state.models[app_label, operation.model_name_lower].fields[operation.name]
        new = operation.field
        if old.null and not new.null and _no_db_default(new):
            return (
                f"makes {operation.model_name}.{operation.name} NOT NULL without db_default: "
                "the running release may still write NULL"
            )
        if old.db_column != new.db_column:
            return f"renames the column of {operation.model_name}.{operation.name}"
    return None


def refused_migrations(
    loader: MigrationLoader | None = None, labels: set[str] | None = None
) -> Iterator[tuple[tuple[str, str], str]]:
    """((app, migration), reason) for every operation of ours (of ``labels`` only, if given) that
    old code would not survive."""
    loader = loader or MigrationLoader(None, ignore_no_migrations=True)
    ours = _ours() if labels is None else _ours() & labels
    plan: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for leaf in sorted(loader.graph.leaf_nodes()):
        for key in loader.graph.forwards_plan(leaf):
            if key not in seen:
                seen.add(key)
                plan.append(key)
    state = ProjectState(real_apps=loader.unmigrated_apps)
    for key in plan:
        migration = loader.graph.nodes[key]
        judged = key[0] in ours and not getattr(migration, "contract", False) and key not in BEFORE_THE_RULE
        for operation in migration.operations:
            if judged and (reason := breaks_old_code(operation, state, key[0])):
                yield key, reason
            operation.state_forwards(key[0], state)


@register("upgrades")
def migrations_expand_only(app_configs=None, **kwargs) -> list[Error]:
    labels = None if app_configs is None else {a.label for a in app_configs}
    return [
        Error(
            f"Migration {app}.{name} {reason}.",
            hint=(
                "Expand first, contract later: add the column nullable or with db_default now, and "
                "drop or rename in a later release's migration marked `contract = True` "
                "(config/core/upgrades.py; README, Upgrades while running)."
            ),
            id="core.E010",
        )
        for (app, name), reason in refused_migrations(labels=labels)
    ]
