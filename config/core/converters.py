"""The URL converter every integer in our URL conf goes through: ``<id:pk>``, never ``<int:pk>``.

Django's ``int`` converter matches any run of digits, and a 25-digit id reaches the database: the
SQLite driver raises OverflowError (a 500) and a foreign-key lookup is not saved by Django's own
overflow guard. ``id`` matches the same ASCII digits but refuses, as no match (so a 404), any value
outside 1 .. 2**63 - 1. That is the range of BigAutoField (DEFAULT_AUTO_FIELD: every model of ours)
on SQLite, PostgreSQL and MySQL alike, so every row that can exist stays reachable, and nothing a
database cannot hold reaches one. Zero and negatives never name an auto id.

Registered on import, which the core app does when it is ready, before any URL conf is loaded;
the system check ``core.E001`` refuses a pattern that uses ``int`` instead, so a new URL cannot
forget it.
"""

from __future__ import annotations

from django.urls import register_converter

ID_MIN = 1
ID_MAX = 2**63 - 1  # BigAutoField's upper bound on every backend Django supports
# Leading zeros are allowed, as by ``int``; a longer text is no id (and int() never parses it).
_MAX_LENGTH = 40


def parse_id(value: str | None) -> int | None:
    """An id from text (a URL segment, a query parameter), or None when it cannot be one."""
    # ASCII digits only: str.isdigit() also accepts "²", which int() then refuses.
    if not value or len(value) > _MAX_LENGTH or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if ID_MIN <= number <= ID_MAX else None


class IdConverter:
    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise ValueError(f"not an id: {value!r}")  # Django reads ValueError as "no match": 404
        return number

    def to_url(self, value: int) -> str:
        return str(int(value))


register_converter(IdConverter, "id")
