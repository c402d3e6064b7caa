"""The pure workbook writer: layout, sanitising, progress, limits. No database, no worker."""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet import _writer as openpyxl_writer

from reports import excel
from reports.excel import Column, Kind
from tests.helpers import read_rows, soffice_csv

COLUMNS = (
    Column("Name", Kind.TEXT, 30),
    Column("Count", Kind.NUMBER, 10),
    Column("When", Kind.DATETIME, 20),
    Column("Took", Kind.DURATION, 12),
    Column("Day", Kind.DATE, 12),
)

RISKY = [
    "=1+2",
    '=HYPERLINK("http://evil.example","click")',
    "+SUM(A1:A2)",
    "-2+3",
    "@SUM(1)",
    "\t=1+2",
    "\r=1+2",
    "#DIV/0!",
    "=",
]


def write(rows, columns=COLUMNS, **kwargs) -> bytes:
    buf = io.BytesIO()
    excel.write_workbook(buf, title="Test sheet", columns=columns, rows=rows, **kwargs)
    return buf.getvalue()


def sheet_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read("xl/worksheets/sheet1.xml").decode()


def test_header_is_bold_frozen_filtered_and_sized():
    data = write([("a", 1, None, None, None), ("b", 2, None, None, None)])
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    assert ws.title == "Test sheet"
    assert [c.value for c in ws[1]] == ["Name", "Count", "When", "Took", "Day"]
    assert all(c.font.b for c in ws[1])
    assert not ws["A2"].font.b
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:E3"
    assert ws.column_dimensions["A"].width == 30
    assert ws.column_dimensions["B"].width == 10


def test_values_come_back_exactly_with_date_formats():
    aware = datetime(2024, 3, 1, 12, 30, 15, tzinfo=UTC)
    rows = [
        ("first", 1, aware, timedelta(seconds=75), date(2024, 3, 1)),
        ("second", 2.5, None, None, None),
        ("", 0, aware + timedelta(days=1), timedelta(0), date(2024, 3, 2)),
    ]
    data = write(rows)
    got = read_rows(io.BytesIO(data))
    assert got[1] == (
        "first",
        1,
        datetime(2024, 3, 1, 12, 30, 15),
        timedelta(seconds=75),
        datetime(2024, 3, 1),
    )
    assert got[2] == ("second", 2.5, None, None, None)
    assert got[3][1:] == (0, datetime(2024, 3, 2, 12, 30, 15), timedelta(0), datetime(2024, 3, 2))
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    assert ws["C2"].is_date and ws["C2"].number_format.startswith("yyyy-mm-dd")
    assert ws["D2"].number_format == "[hh]:mm:ss"
    assert ws["E2"].is_date


def test_aware_datetimes_are_shown_in_the_sheets_time_zone():
    paris = ZoneInfo("Europe/Paris")
    data = write([("x", 1, datetime(2024, 7, 1, 10, 0, tzinfo=UTC), None, None)], tz=paris)
    assert read_rows(io.BytesIO(data))[1][2] == datetime(2024, 7, 1, 12, 0)


def test_formula_looking_text_is_written_as_text_never_a_formula():
    data = write([(text, i, None, None, None) for i, text in enumerate(RISKY)])
    assert "<f>" not in sheet_xml(data) and "<f " not in sheet_xml(data)
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    for i, text in enumerate(RISKY, start=2):
        cell = ws.cell(row=i, column=1)
        assert cell.data_type == "s", text
        assert cell.value == text
        assert cell.quotePrefix, text
    # An ordinary value next to them is untouched.
    assert ws.cell(row=2, column=2).value == 0


def test_control_characters_are_removed_instead_of_failing():
    rows = [
        ("bell\x07 and nul\x00 and esc\x1b", 1, None, None, None),
        ("tab\tand\nnewline", 2, None, None, None),
    ]
    data = write(rows, columns=(Column("Title\x01", Kind.TEXT), *COLUMNS[1:]))
    got = read_rows(io.BytesIO(data))
    assert got[0][0] == "Title"
    assert got[1][0] == "bell and nul and esc"
    assert got[2][0] == "tab\tand\nnewline"


def test_formula_looking_text_with_control_characters_is_both_cleaned_and_kept_as_text():
    data = write([("=\x0bcmd", 1, None, None, None)])
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    assert ws["A2"].value == "=cmd" and ws["A2"].data_type == "s"


def test_progress_every_n_rows_and_once_at_the_end():
    seen = []
    count = excel.write_workbook(
        io.BytesIO(),
        title="p",
        columns=COLUMNS,
        rows=((f"r{i}", i, None, None, None) for i in range(4500)),
        on_progress=seen.append,
        progress_every=1000,
    )
    assert count == 4500
    assert seen == [1000, 2000, 3000, 4000, 4500]


def test_empty_report_still_has_its_header():
    data = write([])
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    assert ws.max_row == 1 and ws.auto_filter.ref == "A1:E1"


def test_too_many_rows_refused_before_writing_and_while_writing_without_leaving_temp_files():
    before = set(os.listdir(tempfile.gettempdir()))
    with pytest.raises(excel.TooManyRows):
        write([("a", 1, None, None, None)], total=11, max_rows=10)
    with pytest.raises(excel.TooManyRows) as info:
        write(((f"r{i}", i, None, None, None) for i in range(50)), max_rows=10, progress_every=5)
    assert info.value.rows == 15
    # openpyxl streams the sheet through a temporary file: an abandoned export removes it.
    assert not [p for p in openpyxl_writer.ALL_TEMP_FILES if os.path.exists(p)]
    leftovers = set(os.listdir(tempfile.gettempdir())) - before
    assert not [n for n in leftovers if n.startswith("openpyxl.")]


def test_number_formats_are_applied_where_asked():
    columns = (Column("Bytes", Kind.NUMBER, 12, "#,##0"), Column("Saving", Kind.NUMBER, 10, "0.0"))
    data = write([(1234567, 42.25)], columns=columns)
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    assert ws["A2"].value == 1234567 and ws["A2"].number_format == "#,##0"
    assert ws["B2"].value == 42.25 and ws["B2"].number_format == "0.0"


def test_libreoffice_reads_formula_text_and_cleaned_text_as_plain_text():
    rows = [(text, i, None, None, None) for i, text in enumerate(RISKY)]
    rows.append(("ctrl\x01chars\x1f gone", 99, datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), None, None))
    table = soffice_csv(write(rows))
    assert table[0] == ["Name", "Count", "When", "Took", "Day"]
    names = [r[0] for r in table[1:]]
    # LibreOffice evaluates formulas when it loads a file: any formula would show its result here.
    assert names[:2] == ["=1+2", '=HYPERLINK("http://evil.example","click")']
    assert names[2:5] == ["+SUM(A1:A2)", "-2+3", "@SUM(1)"]
    assert names[5] == "\t=1+2"
    assert names[7] == "#DIV/0!" and names[8] == "="
    assert names[-1] == "ctrlchars gone"
    # openpyxl's own datetime format (yyyy-mm-dd h:mm:ss), rendered by LibreOffice.
    assert table[-1][1] == "99" and table[-1][2] == "2024-01-02 3:04:05"


def test_the_job_historys_durations_keep_their_milliseconds():
    from reports.layouts import JOB_HISTORY

    [duration] = [c for c in JOB_HISTORY.columns if c.key == "duration"]
    assert duration.number_format == excel.DURATION_MS
    data = write([(timedelta(milliseconds=412),)], columns=(duration,))
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    assert ws["A2"].number_format == "[h]:mm:ss.000"
    assert abs(ws["A2"].value - timedelta(milliseconds=412)) < timedelta(milliseconds=1)
