"""Helpers for the media tests: uploads through the real views, files on the real storage."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

JSON = {"HTTP_ACCEPT": "application/json"}
HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="session")
def photos(testdata) -> Path:
    return testdata / "images" / "photos"


@pytest.fixture(scope="session")
def pillow_images(testdata) -> Path:
    return testdata / "images" / "pillow"


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
    import io

    from PIL import Image as PILImage

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
