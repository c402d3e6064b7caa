"""Accounts and the job layer sit below the apps: no module of theirs imports one (issue 19.2)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("media_app", "reports", "notifications")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", ["config/core", "config/accounts"])
def test_the_layer_imports_no_app_not_even_inside_a_function(layer):
    offenders = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for name in imported_modules(path):
            if name.split(".")[0] in APPS:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, offenders


def test_the_job_layer_imports_nothing_of_accounts():
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "config/core").rglob("*.py"))
        for name in imported_modules(path)
        if name.startswith("config.accounts")
    ]
    assert not offenders, offenders
