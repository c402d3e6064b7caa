"""Reading exports back: with openpyxl, and with LibreOffice when it is installed."""

from __future__ import annotations

import csv
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from openpyxl import load_workbook


def read_rows(path_or_file) -> list[tuple]:
    wb = load_workbook(path_or_file, read_only=False)
    ws = wb.worksheets[0]
    return [tuple(cell.value for cell in row) for row in ws.iter_rows()]


def soffice_csv(xlsx: Path | bytes) -> list[list[str]]:
    """Convert with `soffice --headless --convert-to csv` in an isolated profile; skip without it."""
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed: LibreOffice read-back skipped")
    with tempfile.TemporaryDirectory(prefix="backroom-soffice-") as tmp:
        tmp_path = Path(tmp)
        src = tmp_path / "export.xlsx"
        src.write_bytes(xlsx if isinstance(xlsx, bytes) else Path(xlsx).read_bytes())
        out = subprocess.run(
            [
                soffice,
                f"-env:UserInstallation=file://{tmp_path / 'profile'}",
                "--headless",
                "--norestore",
                # UTF-8 (76), comma-separated, double-quoted text: the CSV filter's options.
                "--convert-to",
                "csv:Text - txt - csv (StarCalc):44,34,76",
                "--outdir",
                str(tmp_path / "out"),
                str(src),
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
        result = tmp_path / "out" / "export.csv"
        assert result.exists(), f"soffice failed: {out.stdout} {out.stderr}"
        with result.open(newline="", encoding="utf-8") as fh:
            return list(csv.reader(fh))
