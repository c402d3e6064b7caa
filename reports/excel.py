"""Streaming .xlsx writing with openpyxl's write-only mode. Pure: row tuples in, a workbook out.

Nothing here knows the ORM. The caller passes the columns and an iterator of row tuples (read from
the database in chunks); each row is written as it comes, so memory stays flat whatever the count.

Speed matters (a million rows must stay within 0.8x of a bare openpyxl loop), so the per-row work
touches only the columns that need it: text columns are checked (one set lookup on the first
character and one compiled-regex scan), aware datetimes are made naive, and every other value is
passed through untouched. A styled cell costs about as much as the rest of the row, so number
formats are per column and opt-in (``Column.number_format``), meant for small sheets; dates, times
and durations are formatted by openpyxl itself.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

# An Excel sheet holds 1,048,576 rows; one is the header.
MAX_DATA_ROWS = 1_048_575
# The characters openpyxl refuses (IllegalCharacterError): C0 controls except tab, LF and CR.
ILLEGAL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# First characters that make a spreadsheet (or a later CSV round trip) read text as a formula.
FORMULA_TRIGGERS = frozenset("=+-@\t\r")
_ERROR_CODES = frozenset(ERROR_CODES)
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Kind:
    TEXT = "text"  # sanitised: formula-looking text stays text, control characters are dropped
    NUMBER = "number"  # int or float, written as is
    DATE = "date"
    DATETIME = "datetime"  # aware values are shown in the sheet's time zone
    DURATION = "duration"  # a timedelta; openpyxl formats it [hh]:mm:ss


# Excel's duration with milliseconds ("0:00:00.412"); openpyxl's default stops at the second.
DURATION_MS = "[h]:mm:ss.000"


@dataclass(frozen=True)
class Column:
    title: str
    kind: str = Kind.TEXT
    width: float = 14
    # Costs a styled cell per row: use it on small sheets (daily statistics), not on huge ones.
    number_format: str | None = None
    # The name a person or an API client chooses the column by ("uploaded_at").
    key: str = ""


class TooManyRows(Exception):
    def __init__(self, rows: int) -> None:
        super().__init__(f"{rows} rows do not fit in one sheet ({MAX_DATA_ROWS} at most)")
        self.rows = rows


def clean_text(value: str) -> str:
    """Drop the control characters an .xlsx file cannot hold instead of failing the whole file."""
    return ILLEGAL_CHARACTERS.sub("", value)


def write_workbook(
    fileobj: BinaryIO,
    *,
    title: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence],
    tz: tzinfo | None = None,
    total: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    progress_every: int = 2000,
    max_rows: int = MAX_DATA_ROWS,
) -> int:
    """Write ``rows`` under a bold, frozen header, with column widths and an autofilter.

    Aware datetimes are shown in ``tz`` (Excel has no time zones; UTC if None). Formula-looking
    text is written as a text cell, never a formula; control characters are removed.
    ``on_progress(n)`` is called every ``progress_every`` rows and once at the end. Returns the
    number of data rows. Raises :class:`TooManyRows` before writing if ``total`` exceeds
    ``max_rows``, or as soon as the rows do (nothing is saved then).
    """
    if total is not None and total > max_rows:
        raise TooManyRows(total)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=clean_text(title)[:31] or "Sheet")
    for index, column in enumerate(columns, 1):
        ws.column_dimensions[get_column_letter(index)].width = column.width
    # Sheet views and column widths are written before the first row, so set them first.
    ws.freeze_panes = "A2"

    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(ws, value=clean_text(column.title))
        cell.font = bold
        header.append(cell)
    ws.append(header)

    convert = _row_converter(ws, columns, tz or UTC)
    try:
        count = _write_rows(ws, rows, convert, on_progress, progress_every, max_rows)
        # The filter is written after the rows, so its range can be the real one.
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
        wb.save(fileobj)
    except BaseException:
        _discard(ws)
        raise
    if on_progress is not None:
        on_progress(count)
    return count


def _write_rows(ws, rows, convert, on_progress, progress_every: int, max_rows: int) -> int:
    append = ws.append
    count = 0
    next_report = progress_every
    for row in rows:
        append(convert(row))
        count += 1
        if count == next_report:
            if count > max_rows:
                raise TooManyRows(count)
            next_report += progress_every
            if on_progress is not None:
                on_progress(count)
    if count > max_rows:
        raise TooManyRows(count)
    return count


def _discard(ws) -> None:
    """Remove the sheet's temporary XML (it can be hundreds of MB) when the file is abandoned."""
    writer = ws._writer
    if writer is None:
        return
    # Close the row stream first, or its XML element is closed after the file it writes to.
    if ws._rows is not None:
        with contextlib.suppress(Exception):
            ws._rows.close()
    with contextlib.suppress(Exception):
        writer.close()
    with contextlib.suppress(Exception):
        writer.cleanup()


def text_cell(ws, value: str) -> Cell:
    """A cell that holds ``value`` as text whatever it looks like (a formula, an error code)."""
    cell = WriteOnlyCell(ws)
    # Assigning _value skips openpyxl's guess ("=..." would become a formula); the quote prefix
    # keeps Excel and LibreOffice from turning it into one when someone edits the cell.
    cell._value = clean_text(value)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


def _row_converter(ws, columns: Sequence[Column], tz: tzinfo) -> Callable[[Sequence], Sequence]:  # noqa: C901 - one closure on purpose: the per-row hot loop
    """Build the per-row function; it touches only the columns whose kind needs work."""
    text_at = tuple(i for i, c in enumerate(columns) if c.kind == Kind.TEXT)
    datetime_at = tuple(i for i, c in enumerate(columns) if c.kind == Kind.DATETIME)
    formatted = []
    for i, column in enumerate(columns):
        if column.number_format:
            template = WriteOnlyCell(ws)
            template.number_format = column.number_format
            formatted.append((i, template._style))
    formatted = tuple(formatted)
    if not (text_at or datetime_at or formatted):
        return lambda row: row

    triggers = FORMULA_TRIGGERS
    error_codes = _ERROR_CODES
    illegal = ILLEGAL_CHARACTERS.search
    if getattr(tz, "key", None) == "UTC":
        tz = UTC  # the database hands back datetime.UTC values: those need no conversion

    def convert(row: Sequence) -> list:
        row = list(row)
        for i in text_at:
            value = row[i]
            if value.__class__ is str and value:
                if value[0] in triggers or value in error_codes:
                    row[i] = text_cell(ws, value)
                elif illegal(value):
                    row[i] = clean_text(value)
        for i in datetime_at:
            value = row[i]
            if value is not None and value.tzinfo is not None:
                row[i] = (value if value.tzinfo is tz else value.astimezone(tz)).replace(tzinfo=None)
        for i, style in formatted:
            value = row[i]
            if value is not None and value.__class__ is not Cell:
                row[i] = Cell(ws, row=1, column=1, value=value, style_array=style)
        return row

    return convert
