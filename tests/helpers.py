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
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook
from PIL import Image as PILImage

# The test client's Accept headers (config.core.negotiation.wants_json): a program, a browser.
JSON = {"HTTP_ACCEPT": "application/json"}
HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml"}

# A child process's upload (argv: username, photo path) as a program, timed; prints its JSON answer.
UPLOAD_SCRIPT = """
import json, sys, time, django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
client = Client()
client.force_login(get_user_model().objects.get(username=sys.argv[1]))
with open(sys.argv[2], "rb") as fh:
    started = time.monotonic()
    response = client.post("/media/upload/", {"image": fh}, HTTP_ACCEPT="application/json")
    elapsed = time.monotonic() - started
print(json.dumps({"status": response.status_code, "seconds": elapsed, "body": response.json(),
                  "retry_after": response.get("Retry-After")}))
"""

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


# --- reports: asking for exports, and rows for them to read -------------------------------------


def ask(client, **data):
    """Ask for an export as a program does."""
    return client.post("/reports/exports/", data, **JSON)


def ask_ok(client, **data) -> dict:
    response = ask(client, **data)
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"export_id", "task_id", "status_url"}
    assert body["status_url"] == f"/tasks/{body['task_id']}/"
    return body


def built(client, wait_job, **data) -> tuple:
    """Ask for an export and wait for its worker: (the Export, its status JSON)."""
    from reports.models import Export

    body = ask_ok(client, **data)
    job = wait_job(body["task_id"], timeout=120)
    assert job.state == "SUCCESS", job.error
    status = client.get(f"/reports/exports/{body['export_id']}/", **JSON).json()
    return Export.objects.get(pk=body["export_id"]), status


def download(client, url: str, **headers):
    response = client.get(url, **headers)
    content = b"".join(response.streaming_content) if response.streaming else response.content
    response.close()
    return response, content


def make_job(owner, at, *, kind="media.compress", state="SUCCESS", took=2, error=""):
    from config.core.models import Job

    return Job.objects.create(
        task_id=str(uuid.uuid4()),
        owner=owner,
        kind=kind,
        task_name="media_app.compress_image",
        state=state,
        created_at=at,
        started_at=at + timedelta(seconds=1) if state != "QUEUED" else None,
        finished_at=at + timedelta(seconds=1 + took) if state in ("SUCCESS", "FAILURE") else None,
        error=error,
    )


def make_image(owner, at, **fields):
    from media_app.models import Image

    values = {
        "title": "photo",
        "original": f"media/originals/{owner.pk}/{uuid.uuid4().hex}.jpg",
        "original_format": "JPEG",
        "original_width": 4000,
        "original_height": 3000,
        "original_bytes": 2_000_000,
        "bytes_in": 2_000_000,
        "bytes_out": 500_000,
        "state": "READY",
        "created_at": at,
    }
    values.update(fields)
    return Image.objects.create(owner=owner, **values)


def wait_idle(worker, timeout: float = 60) -> None:
    from config.celery_app import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        active = app.control.inspect(destination=[worker.name], timeout=2).active() or {}
        if not active.get(worker.name):
            return
        time.sleep(0.2)
    raise AssertionError("worker still busy")
