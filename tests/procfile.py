"""The Procfile's command lines, for tests and benchmarks that run what a deployment runs."""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def procfile_command(process: str, **variables: str) -> list[str]:
    """The Procfile's command line for ``process``, with ${VAR:-default} filled in."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            break
    else:
        raise KeyError(f"no {process!r} in the Procfile")

    def fill(match: re.Match) -> str:
        var, default = match.group(1), match.group(2) or ""
        return variables.get(var) or os.environ.get(var) or default

    command = re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", fill, command)
    argv = shlex.split(command)
    # Leading VAR=value words set the process's environment, as the shell does.
    assignments = []
    while argv and re.fullmatch(r"[A-Za-z_]\w*=.*", argv[0]):
        assignments.append(argv.pop(0))
    # The virtualenv's own executables, as `make run` does.
    if (BIN / argv[0]).exists():
        argv[0] = str(BIN / argv[0])
    return ["env", *assignments, *argv] if assignments else argv
