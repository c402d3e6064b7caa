"""Big tables, fast: rows made by the database itself from a number series, never one ORM object
per row.

``seed(Model, n, {column: expression})`` runs ``INSERT INTO … SELECT <expressions> FROM <series>``
in chunks: ``generate_series`` on PostgreSQL, a recursive CTE on SQLite. An expression is SQL over
``i`` (the row's number, from ``first``); the helpers below spell the few that differ between the
two databases. Every other column gets its field's default (or NULL), passed as a parameter, so a
new field with a default never breaks the seeding.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

CHUNK = 100_000


def vendor() -> str:
    from django.db import connection

    return connection.vendor


def hex_id(expr: str = "i", salt: int = 0) -> str:
    """A UUID-shaped text (36 characters), different for each ``expr`` (and each ``salt``)."""
    if vendor() == "postgresql":
        return f"lpad(to_hex({salt}), 8, '0') || '-0000-4000-8000-' || lpad(to_hex({expr}), 12, '0')"
    return f"printf('%08x-0000-4000-8000-%012x', {salt}, {expr})"


def moment(start: datetime, seconds: str) -> str:
    """``start`` plus ``seconds`` (an SQL expression), as the column's type expects it."""
    start = start.astimezone(UTC)
    if vendor() == "postgresql":
        return f"(timestamptz '{start.isoformat()}' + ({seconds}) * interval '1 second')"
    # Django's SQLite backend stores aware datetimes as UTC text.
    return f"strftime('%Y-%m-%d %H:%M:%f', '{start:%Y-%m-%d %H:%M:%S}', '+' || ({seconds}) || ' seconds')"


def pick(expr: str, choices: list[str]) -> str:
    """One of ``choices`` (quoted text), in turn by ``expr``."""
    whens = " ".join(f"WHEN {n} THEN '{c}'" for n, c in enumerate(choices))
    return f"(CASE ({expr}) % {len(choices)} {whens} END)"


def text(expr: str) -> str:
    return f"CAST({expr} AS TEXT)" if vendor() != "postgresql" else f"({expr})::text"


def seed(model, n: int, exprs: dict[str, str], *, first: int = 1, label: str = "") -> float:
    """Insert ``n`` rows numbered ``first`` … ``first + n - 1``; returns the seconds it took."""
    from django.db import connection, transaction

    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        given = exprs.get(field.column, exprs.get(field.name))
        if given is not None:
            # Parameters follow, so a literal % (modulo, strftime) is written %% on both databases.
            values.append(given.replace("%", "%%"))
        elif field.has_default():
            # Typed on PostgreSQL: an untyped literal in a SELECT list is text, which jsonb refuses.
            pg = connection.vendor == "postgresql"
            values.append(f"CAST(%s AS {field.cast_db_type(connection)})" if pg else "%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
        elif field.null:
            values.append("NULL")
        elif field.get_internal_type() in ("CharField", "TextField"):
            values.append("''")
        else:
            raise ValueError(f"{model.__name__}.{field.name}: no expression and no default")
    table = connection.ops.quote_name(model._meta.db_table)
    head = f"INSERT INTO {table} ({', '.join(columns)}) "
    # Every expression is the bench's own text, never input: S608 does not apply.
    select = f"SELECT {', '.join(values)} FROM "  # noqa: S608
    t0 = time.monotonic()
    done = 0
    while done < n:
        lo = first + done
        hi = lo + min(CHUNK, n - done) - 1
        if connection.vendor == "postgresql":
            sql = f"{head}{select}generate_series({lo}::bigint, {hi}::bigint) AS s(i)"
        else:
            sql = (
                f"{head}WITH RECURSIVE s(i) AS (SELECT {lo} UNION ALL SELECT i + 1 FROM s WHERE i < {hi}) "  # noqa: S608
                f"{select}s"
            )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
        done = hi - first + 1
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")  # fresh statistics, as autovacuum would soon make
    seconds = time.monotonic() - t0
    if label:
        print(f"bench:   seeded {n:,} {label} in {seconds:.1f} s", flush=True)
    return seconds
