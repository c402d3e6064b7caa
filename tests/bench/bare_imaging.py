"""The same renditions as media_app makes, by bare libraries in-process (baseline and peer).

Same sizes (settings.MEDIA_RENDITION_SIZES), formats (JPEG + WebP for opaque pictures) and encoder
options (JPEG quality, optimize, progressive; WebP quality, method) as the product; the original is
read from a file and the six outputs are written to files, as the worker does with storage.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

from django.conf import settings


def _sizes() -> list[int]:
    return sorted(settings.MEDIA_RENDITION_SIZES.values(), reverse=True)


def fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    w, h = size
    if max(w, h) <= side:
        return w, h
    scale = side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def pillow_renditions(src: Path, out_dir: Path) -> int:
    """Plain Pillow, best path: JPEG draft at the aspect-correct target, one decode, each size
    resized from the one before with reducing_gap. Returns the bytes written."""
    from PIL import Image

    out_dir.mkdir(parents=True, exist_ok=True)
    data = src.read_bytes()
    im = Image.open(io.BytesIO(data))
    full = im.size
    sizes = _sizes()
    im.draft("RGB", fit(full, sizes[0]))
    im.load()
    if im.mode != "RGB":
        im = im.convert("RGB")
    written = 0
    current = im
    for side in sizes:
        size = fit(full, side)
        if current.size != size:
            current = current.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
        jpeg, webp = io.BytesIO(), io.BytesIO()
        current.save(jpeg, "JPEG", quality=settings.MEDIA_JPEG_QUALITY, optimize=True, progressive=True)
        current.save(webp, "WEBP", quality=settings.MEDIA_WEBP_QUALITY, method=settings.MEDIA_WEBP_METHOD)
        for ext, buf in (("jpg", jpeg), ("webp", webp)):
            (out_dir / f"{side}.{ext}").write_bytes(buf.getvalue())
            written += buf.tell()
    return written


def vips_renditions(src: Path, out_dir: Path) -> int:
    """pyvips: shrink-on-load to the largest size, then each smaller one from it."""
    import pyvips

    logging.getLogger("pyvips").setLevel(logging.WARNING)  # it narrates every operation at INFO

    out_dir.mkdir(parents=True, exist_ok=True)
    data = src.read_bytes()
    sizes = _sizes()
    largest = pyvips.Image.thumbnail_buffer(data, sizes[0], size="down").copy_memory()
    written = 0
    for side in sizes:
        current = largest if side == sizes[0] else largest.thumbnail_image(side, size="down")
        jpeg = current.jpegsave_buffer(
            Q=settings.MEDIA_JPEG_QUALITY, optimize_coding=True, interlace=True, keep="none"
        )
        webp = current.webpsave_buffer(
            Q=settings.MEDIA_WEBP_QUALITY, effort=settings.MEDIA_WEBP_METHOD, keep="none"
        )
        for ext, buf in (("jpg", jpeg), ("webp", webp)):
            (out_dir / f"{side}.{ext}").write_bytes(buf)
            written += len(buf)
    return written
