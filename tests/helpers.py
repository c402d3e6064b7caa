"""What many tests share: the Accept headers a browser and a program send, uploads through the
real views, files on the real storage, and readers of the exports the app wrote (with openpyxl, and
with LibreOffice when it is installed).

Import from here, not from a conftest.py (conftest files hold fixtures only).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook
from PIL import Image as PILImage

# The test client's Accept headers (config.core.negotiation.wants_json): a program, a browser.
JSON = {"HTTP_ACCEPT": "application/json"}
HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml"}

# BACKROOM_SOAK=1 runs the long variants (the "soak" marker).
SOAK = os.environ.get("BACKROOM_SOAK") == "1"


def as_upload(path: Path, name: str | None = None, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes(), content_type=content_type)


def post_upload(client, files, *, title: str = "", accept: dict = JSON):
    files = files if isinstance(files, list) else [files]
    data = {"image": [f if isinstance(f, SimpleUploadedFile) else as_upload(f) for f in files]}
    if title:
        data["title"] = title
    return client.post("/media/upload/", data, **accept)


def stored_files(prefix: str) -> list[str]:
    """Every file under MEDIA_ROOT/<prefix>, relative to MEDIA_ROOT."""
    root = Path(settings.MEDIA_ROOT)
    base = root / prefix
    if base.is_file():
        return [prefix]
    if not base.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in base.rglob("*") if p.is_file())


def cut_in_half_with_end_marker(data: bytes) -> bytes:
    """A JPEG cut in the middle of its scan data, with an end-of-image marker appended."""
    return data[: len(data) // 2] + b"\xff\xd9"


def tiny_jpeg_claiming(photo: Path, size: int = 7000) -> bytes:
    """A few hundred bytes of real JPEG (the photo at 16x16) whose frame header claims size x size."""
    out = io.BytesIO()
    with PILImage.open(photo) as im:
        im.convert("RGB").resize((16, 16)).save(out, "JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = size.to_bytes(2, "big") * 2  # height, width
    return bytes(data)


# What a photo larger than 1024 px gets (settings.MEDIA_RENDITION_SIZES, the square and AVIF up to
# MEDIA_AVIF_MAX_SIDE): every width in its fallback and WebP, and AVIF but for "large".
def expected_renditions(fallback: str = "JPEG", *, avif_large: bool = False) -> set[tuple[str, str]]:
    made = {("large", fallback), ("large", "WEBP")} | ({("large", "AVIF")} if avif_large else set())
    return made | {(n, f) for n in ("medium", "small", "thumb", "square") for f in (fallback, "WEBP", "AVIF")}


PHOTO_RENDITIONS = len(expected_renditions())  # 14


def csv_rows(data: bytes) -> list[list[str]]:
    """The rows of an export's CSV, which starts with a UTF-8 byte order mark."""
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def other_db(url: str, db: int = 7) -> str:
    """The same Redis server, another database number (a worker of its own)."""
    base, _, _ = url.rpartition("/")
    return f"{base}/{db}"


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
