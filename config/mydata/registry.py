"""What each app holds about a person, declared in its own ``personal_data.py``.

This app sits below the others and never imports one (as the ops registry): each registers

- **holdings**: ``fn(user) -> [Holding, …]``, everything it would put in the person's archive
  (rows as JSON, stored files by name);
- **files**: ``fn(user_id) -> [(storage, name), …]``, every stored file of theirs, deleted when
  their account is. Rows need no registration: deleting the user cascades to every row of theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import Storage


@dataclass(frozen=True)
class Holding:
    path: str  # inside the archive
    data: bytes | None = None
    storage: Storage | None = None
    name: str = ""  # a stored file, read when the archive is built


HoldingsFn = Callable[[Any], Iterable[Holding]]
FilesFn = Callable[[int], Iterable[tuple[Storage, str]]]


class Registry:
    def __init__(self) -> None:
        self._holdings: dict[str, HoldingsFn] = {}
        self._files: dict[str, FilesFn] = {}

    def holdings(self, name: str) -> Callable[[HoldingsFn], HoldingsFn]:
        def register(fn: HoldingsFn) -> HoldingsFn:
            self._holdings[name] = fn
            return fn

        return register

    def files(self, name: str) -> Callable[[FilesFn], FilesFn]:
        def register(fn: FilesFn) -> FilesFn:
            self._files[name] = fn
            return fn

        return register

    def all_holdings(self) -> list[tuple[str, HoldingsFn]]:
        return list(self._holdings.items())

    def all_files(self) -> list[tuple[str, FilesFn]]:
        return list(self._files.items())


registry = Registry()
