"""The pure CSV writer: Excel-friendly bytes, the XLSX writer's protections, flat memory."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reports.csvfile import format_duration, guard_text, write_csv
from reports.excel import Column, Kind, TooManyRows

COLUMNS = (
    Column("Title", Kind.TEXT),
    Column("Bytes", Kind.NUMBER),
    Column("When", Kind.DATETIME),
    Column("Took", Kind.DURATION),
)


def read(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "no UTF-8 byte-order mark: Excel would guess the code page"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_header_rows_bom_crlf_and_quoting():
    out = io.BytesIO()
    rows = [("Café, «naïve»", 12, None, None), ('say "hi"\nthen go', 0, None, None)]
    assert write_csv(out, columns=COLUMNS, rows=rows) == 2
    data = out.getvalue()
    assert data.count(b"\xef\xbb\xbf") == 1
    assert data.split(b"\r\n")[0] == b"\xef\xbb\xbfTitle,Bytes,When,Took"
    assert read(data) == [
        ["Title", "Bytes", "When", "Took"],
        ["Café, «naïve»", "12", "", ""],
        ['say "hi"\nthen go', "0", "", ""],
    ]


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-5", "'-5"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\tindent", "'\tindent"),
        ("\r=1", "'\r=1"),
        ("#N/A", "'#N/A"),
        ("a bell\x07 and NUL\x00 and ESC\x1b", "a bell and NUL and ESC"),
        ("\x01=1", "'=1"),  # cleaned first, then guarded: the control character hid nothing
        ("plain = text", "plain = text"),
    ],
)
def test_formula_guard_and_control_characters_like_the_xlsx_writer(text, written):
    assert guard_text(text) == written
    out = io.BytesIO()
    write_csv(out, columns=COLUMNS[:1], rows=[(text,)])
    assert read(out.getvalue())[1] == [written]


def test_times_in_the_given_zone_to_the_second_and_durations():
    berlin = ZoneInfo("Europe/Berlin")
    rows = [
        ("summer", 1, datetime(2026, 7, 1, 6, 5, 4, 987654, tzinfo=UTC), timedelta(hours=26, seconds=5)),
        ("winter", 1, datetime(2026, 1, 1, 6, 5, 4, tzinfo=UTC), timedelta(seconds=59)),
        ("naive", 1, datetime(2026, 1, 1, 6, 5, 4), timedelta(0)),
    ]
    out = io.BytesIO()
    write_csv(out, columns=COLUMNS, rows=rows, tz=berlin)
    assert read(out.getvalue())[1:] == [
        ["summer", "1", "2026-07-01 08:05:04", "26:00:05"],
        ["winter", "1", "2026-01-01 07:05:04", "0:00:59"],
        ["naive", "1", "2026-01-01 06:05:04", "0:00:00"],
    ]
    assert format_duration(timedelta(seconds=-61)) == "-0:01:01"
    assert format_duration(timedelta(milliseconds=412)) == "0:00:00.412"
    assert format_duration(timedelta(seconds=75, milliseconds=5)) == "0:01:15.005"


def test_progress_and_row_limits():
    seen = []
    out = io.BytesIO()
    rows = (("r", i, None, None) for i in range(5))
    assert write_csv(out, columns=COLUMNS, rows=rows, on_progress=seen.append, progress_every=2) == 5
    assert seen == [2, 4, 5]
    with pytest.raises(TooManyRows):
        write_csv(io.BytesIO(), columns=COLUMNS, rows=[], total=11, max_rows=10)
    with pytest.raises(TooManyRows):
        write_csv(io.BytesIO(), columns=COLUMNS, rows=(("r", i, None, None) for i in range(11)), max_rows=10)


def test_the_callers_file_stays_open_and_memory_stays_flat(tmp_path):
    """50,000 rows from a generator to a real file: the writer holds one batch at a time."""
    when = datetime(2026, 1, 1, tzinfo=UTC)

    def rows(n):
        for i in range(n):
            yield (f"=title {i}", i, when + timedelta(seconds=i), timedelta(seconds=i))

    peaks = {}
    for n in (5_000, 50_000):
        with open(tmp_path / f"{n}.csv", "w+b") as fh:
            tracemalloc.start()
            write_csv(fh, columns=COLUMNS, rows=rows(n), tz=ZoneInfo("America/New_York"))
            peaks[n] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert not fh.closed
            fh.seek(0)
            assert fh.read(3) == b"\xef\xbb\xbf"
    assert peaks[50_000] < 4 * 1024 * 1024, peaks
    assert peaks[50_000] < 2 * peaks[5_000], peaks  # ten times the rows, not ten times the memory
    with open(tmp_path / "50000.csv", newline="", encoding="utf-8-sig") as fh:
        last = list(csv.reader(fh))[-1]
    assert last == ["'=title 49999", "49999", "2026-01-01 08:53:19", "13:53:19"]
