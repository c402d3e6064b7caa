"""Scenario 10: bad input of every kind gets a 4xx with a clear message, never a 500; nothing is
written outside the media root; what reaches the worker ends in a final state and the worker lives.

Hypothesis generates random bytes, names, form values and task ids; the hand-made cases are the
ones attackers and broken phones actually send."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from PIL import Image as PILImage

from config.core.models import Job
from tests.helpers import JSON

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

FUZZ = hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def png_bytes(size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", size, (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (64, 48), (30, 200, 30)).save(buf, "JPEG")
    return buf.getvalue()


def png_bomb(side: int, *, full: bool) -> bytes:
    """A greyscale PNG ``side`` pixels square; ``full`` compresses every (zero) row, else only a few.
    Either way the file is small and its header claims side² pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (side + 1)
    z = zlib.compressobj(9)
    body = b"".join(z.compress(row) for _ in range(side if full else 16)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


HOSTILE_NAMES = ("passwd", "win.ini", "bomb", "svg-with-script", "eps-renamed", "polyglot", "truncated")


def files_outside(root: Path, since: float) -> list[Path]:
    """Files named after what we uploaded, written since ``since`` anywhere under the project or
    /etc, except inside the media root: an upload's own name must never choose where it goes."""
    found = []
    for base in (settings.BASE_DIR, Path("/etc")):
        for p in base.rglob("*"):
            if ".venv" in p.parts or ".git" in p.parts or p.is_relative_to(root):
                continue
            try:
                if p.is_file() and p.stat().st_mtime >= since and any(h in p.name for h in HOSTILE_NAMES):
                    found.append(p)
            except OSError:
                continue
    return found


def upload(client, name: str, content: bytes, **extra):
    if os.path.basename(name) in {"", ".", ".."}:
        # Django's test file refuses such a name before any request; a hostile client sends it.
        return raw_upload(client, name, content, **extra)
    return client.post(
        "/media/upload/", {"image": SimpleUploadedFile(name, content, "image/jpeg"), **extra}, **JSON
    )


def raw_upload(client, name: str, content: bytes, **extra):
    """The multipart body written by hand, with ``name`` as the file name as it is (quotes and line
    breaks escaped as browsers do), the way a client that is not a browser would send it."""
    boundary = "backroom-hostile-boundary"
    filename = name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in extra.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return client.post(
        "/media/upload/", data=body, content_type=f"multipart/form-data; boundary={boundary}", **JSON
    )


def assert_clear_4xx(response, *, statuses=(400, 403, 404, 405, 413)):
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    body = response.json()
    text = str(body.get("errors") or body.get("error") or "")
    assert text and "Traceback" not in text and "Exception" not in text, body


@given(content=st.binary(max_size=4096), name=st.text(max_size=300))
@example(content=b"", name="/")  # found by hypothesis in CI: no file name left after the path
@example(content=b"\xff\xd8\xff", name="a/..")
@FUZZ
def test_random_bytes_under_any_name_are_refused_clearly(owner_client, content, name):
    response = upload(owner_client, name or "x", content)
    if response.status_code == 202:  # hypothesis found a real picture: fine, it is one
        return
    assert_clear_4xx(response)


@given(task_id=st.text(min_size=1, max_size=80).filter(lambda t: "/" not in t and "?" not in t))
@FUZZ
def test_malformed_task_ids_are_404(owner_client, task_id):
    from urllib.parse import quote

    response = owner_client.get(f"/tasks/{quote(task_id, safe='')}/", **JSON)
    assert response.status_code == 404 and response.json()["error"]


@given(
    values=st.dictionaries(
        st.sampled_from(["kind", "date_from", "date_to", "title", "email", "username", "page"]),
        st.one_of(st.text(max_size=200), st.integers().map(str), st.just("\x00"), st.just("9" * 400)),
    )
)
@FUZZ
def test_odd_form_values_never_cause_a_server_error(owner_client, values):
    for method, url in [
        ("post", "/reports/exports/"),
        ("post", "/notifications/preferences/"),
        ("get", "/media/"),
        ("get", "/notifications/"),
        ("get", "/reports/"),
    ]:
        response = getattr(owner_client, method)(url, values, **JSON)
        assert response.status_code < 500, (url, values, response.status_code)
    response = Client().post("/accounts/signup/", values)
    assert response.status_code < 500


def test_hostile_files_are_refused_and_nothing_lands_outside_the_media_root(owner_client, testdata, settings):
    import time

    since = time.time() - 1
    pillow = testdata / "images" / "pillow"
    refused = {
        "empty.jpg": b"",
        "svg-with-script.png": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "eps-renamed.png": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
        "html.jpg": b"<html><script>alert(document.cookie)</script></html>",
        "bomb-10000.png": png_bomb(10_000, full=True),
        "bomb-30000.png": png_bomb(30_000, full=False),
        "gif-bomb.gif": (pillow / "decompression_bomb.gif").read_bytes(),
    }
    for name, content in refused.items():
        response = upload(owner_client, name, content)
        assert_clear_4xx(response)
    settings.MEDIA_MAX_UPLOAD_BYTES = 100_000
    oversize = upload(owner_client, "big.jpg", jpeg_bytes() + b"\x00" * 100_001)
    assert_clear_4xx(oversize)
    # Too many files in one request: Django's limit, a 400 with our message, not a 500.
    many = [
        SimpleUploadedFile(f"{i}.png", b"x", "image/png")
        for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)
    ]
    assert owner_client.post("/media/upload/", {"image": many}, **JSON).status_code == 400
    # An image field that is text, not a file.
    assert_clear_4xx(owner_client.post("/media/upload/", {"image": "not a file"}, **JSON))
    assert not Job.objects.exists()
    assert not files_outside(Path(settings.MEDIA_ROOT), since)


def test_accepted_oddities_are_stored_safely_and_the_worker_survives(
    celery_worker, owner_client, testdata, wait_job
):
    """Names with ../, NUL, newlines and 300 characters; a JPEG with HTML appended; truncated files.
    Each is stored under a random name inside the media root and ends SUCCESS or FAILURE with a
    sentence; the worker's processes are all still there afterwards."""
    import time

    since = time.time() - 1
    pillow = testdata / "images" / "pillow"
    children = set(celery_worker.child_pids())
    cases = {
        "../../../../etc/passwd.jpg": jpeg_bytes(),
        "..\\..\\windows\\win.ini.png": png_bytes(),
        "nul\x00byte.jpg": jpeg_bytes(),
        "new\nline\r\n.jpg": jpeg_bytes(),
        ("x" * 300) + ".jpg": jpeg_bytes(),
        "polyglot.jpg": jpeg_bytes() + b"<html><script>alert(1)</script></html>",
        "truncated.png": (pillow / "truncated_image.png").read_bytes(),
        "truncated.jpg": (pillow / "truncated_jpeg.jpg").read_bytes(),
        "broken.png": (pillow / "broken_data_stream.png").read_bytes(),
    }
    task_ids = []
    for name, content in cases.items():
        response = upload(owner_client, name, content)
        if response.status_code == 202:
            task_ids.append(response.json()["task_id"])
        else:
            assert_clear_4xx(response)
    assert len(task_ids) >= 6
    from media_app.models import Image

    media_root = Path(settings.MEDIA_ROOT).resolve()
    for image in Image.objects.all():
        stored = (media_root / image.original.name).resolve()
        assert stored.is_relative_to(media_root) and stored.is_file()
        assert ".." not in image.original.name and "\x00" not in image.title and "\n" not in image.title
    for task_id in task_ids:
        job = wait_job(task_id, timeout=60)
        assert job.state == "SUCCESS" or (job.error and "Traceback" not in job.error)
    assert celery_worker.proc.poll() is None
    assert len(celery_worker.child_pids()) == len(children)  # no pool process died on the way
    assert not files_outside(media_root, since)
