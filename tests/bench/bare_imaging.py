"""The same renditions as media_app makes, by bare libraries in-process (baseline and peer).

Same sizes (settings.MEDIA_RENDITION_SIZES and the MEDIA_SQUARE_SIZE square), formats (JPEG + WebP
for opaque pictures, AVIF up to MEDIA_AVIF_MAX_SIDE) and encoder options (JPEG quality, optimize,
progressive; WebP quality, method; AVIF quality, speed, one thread) as the product, and the same
ThumbHash; the original is read from a file and the outputs are written to files, as the worker
does with storage.

``pillow_today`` makes what the product made before issue 15 (2048/1024/256 in JPEG and WebP):
the yardstick of "the whole job within 1.5x of today's time".
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


def _avif_sides() -> int:
    return settings.MEDIA_AVIF_MAX_SIDE


def _save(current, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    current.save(out, fmt, **params)
    return out.getvalue()


def _pillow_files(current, side: int) -> list[tuple[str, bytes]]:
    files = [
        ("jpg", _save(current, "JPEG", quality=settings.MEDIA_JPEG_QUALITY, optimize=True, progressive=True)),
        (
            "webp",
            _save(current, "WEBP", quality=settings.MEDIA_WEBP_QUALITY, method=settings.MEDIA_WEBP_METHOD),
        ),
    ]
    if max(current.size) <= _avif_sides():
        avif = _save(
            current,
            "AVIF",
            quality=settings.MEDIA_AVIF_QUALITY,
            speed=settings.MEDIA_AVIF_SPEED,
            max_threads=1,
        )
        files.append(("avif", avif))
    return files


def pillow_renditions(src: Path, out_dir: Path) -> int:
    """Plain Pillow, best path: JPEG draft at the aspect-correct target, one decode, each size
    resized from the one before with reducing_gap, the square cut from the smallest size that
    holds it (around the centre), the ThumbHash from the smallest. Returns the bytes written."""
    from PIL import Image

    from media_app import thumbhash

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
    current, made = im, [im]
    for side in sizes:
        size = fit(full, side)
        if current.size != size:
            current = current.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
            made.append(current)
        for ext, buf in _pillow_files(current, side):
            (out_dir / f"{side}.{ext}").write_bytes(buf)
            written += len(buf)
    square = settings.MEDIA_SQUARE_SIZE
    source = min((p for p in made if min(p.size) >= square), key=lambda p: p.width, default=im)
    short = min(source.size)
    left, top = (source.width - short) // 2, (source.height - short) // 2
    cut = source.crop((left, top, left + short, top + short))
    if short > square:
        cut = cut.resize((square, square), Image.Resampling.LANCZOS, reducing_gap=2.0)
    for ext, buf in _pillow_files(cut, square):
        (out_dir / f"square.{ext}").write_bytes(buf)
        written += len(buf)
    tiny = current.convert("RGBA")
    tiny.thumbnail((100, 100), Image.Resampling.BILINEAR)
    thumbhash.encode(tiny.width, tiny.height, tiny.tobytes())
    return written


def pillow_today(src: Path, out_dir: Path) -> int:
    """What the product made before issue 15, by the same best path: 2048, 1024 and 256 px in
    JPEG and WebP, nothing else."""
    from PIL import Image

    out_dir.mkdir(parents=True, exist_ok=True)
    data = src.read_bytes()
    im = Image.open(io.BytesIO(data))
    full = im.size
    im.draft("RGB", fit(full, 2048))
    im.load()
    if im.mode != "RGB":
        im = im.convert("RGB")
    written = 0
    current = im
    for side in (2048, 1024, 256):
        size = fit(full, side)
        if current.size != size:
            current = current.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
        jpeg = _save(current, "JPEG", quality=settings.MEDIA_JPEG_QUALITY, optimize=True, progressive=True)
        webp = _save(current, "WEBP", quality=settings.MEDIA_WEBP_QUALITY, method=settings.MEDIA_WEBP_METHOD)
        for ext, buf in (("jpg", jpeg), ("webp", webp)):
            (out_dir / f"{side}.{ext}").write_bytes(buf)
            written += len(buf)
    return written


def vips_renditions(src: Path, out_dir: Path) -> int:
    """pyvips: shrink-on-load to the largest size, then each smaller one from it; AVIF through
    heifsave (effort 9 - speed, as libvips maps it to libaom), the square by a centred crop."""
    import pyvips

    from media_app import thumbhash

    logging.getLogger("pyvips").setLevel(logging.WARNING)  # it narrates every operation at INFO

    out_dir.mkdir(parents=True, exist_ok=True)
    data = src.read_bytes()
    sizes = _sizes()
    largest = pyvips.Image.thumbnail_buffer(data, sizes[0], size="down").copy_memory()
    written = 0

    def files(current) -> list[tuple[str, bytes]]:
        out = [
            (
                "jpg",
                current.jpegsave_buffer(
                    Q=settings.MEDIA_JPEG_QUALITY, optimize_coding=True, interlace=True, keep="none"
                ),
            ),
            (
                "webp",
                current.webpsave_buffer(
                    Q=settings.MEDIA_WEBP_QUALITY, effort=settings.MEDIA_WEBP_METHOD, keep="none"
                ),
            ),
        ]
        if max(current.width, current.height) <= _avif_sides():
            avif = current.heifsave_buffer(
                compression="av1",
                Q=settings.MEDIA_AVIF_QUALITY,
                effort=max(0, 9 - settings.MEDIA_AVIF_SPEED),
                keep="none",
            )
            out.append(("avif", avif))
        return out

    smallest = largest
    for side in sizes:
        current = largest if side == sizes[0] else largest.thumbnail_image(side, size="down")
        smallest = current
        for ext, buf in files(current):
            (out_dir / f"{side}.{ext}").write_bytes(buf)
            written += len(buf)
    square = largest.thumbnail_image(
        settings.MEDIA_SQUARE_SIZE, height=settings.MEDIA_SQUARE_SIZE, crop="centre", size="down"
    )
    for ext, buf in files(square):
        (out_dir / f"square.{ext}").write_bytes(buf)
        written += len(buf)
    tiny = smallest.thumbnail_image(100, size="down")
    if not tiny.hasalpha():
        tiny = tiny.bandjoin(255)
    thumbhash.encode(tiny.width, tiny.height, bytes(tiny.write_to_memory()))
    return written
