"""Test photos, made deterministically at bench start under var/bench/images/ (never committed).

Camera-sized pictures are tiled from the real 1800x1200 photos in the shared test data, so they
carry real photographic detail (an upscaled photo would be unrealistically easy to compress).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.testdata import TESTDATA

from .stack import BENCH_DIR

PHOTOS = TESTDATA / "images" / "photos"
IMAGES_DIR = BENCH_DIR / "images"


@dataclass(frozen=True)
class Photo:
    label: str
    path: Path
    size: tuple[int, int]
    format: str


SPECS = [
    ("12mp.jpg", (4000, 3000), "JPEG"),
    ("24mp.jpg", (6000, 4000), "JPEG"),
    ("12mp.png", (4000, 3000), "PNG"),
]


def _tiled(size: tuple[int, int]):
    from PIL import Image

    sources = sorted(p for p in PHOTOS.glob("*.jpg"))
    tiles = []
    for path in sources:
        with Image.open(path) as im:
            if im.width > im.height:  # landscape tiles only, so they pack in a grid
                tiles.append(im.convert("RGB"))
    if not tiles:
        raise RuntimeError(f"no landscape photos in {PHOTOS}")
    tw, th = tiles[0].size
    canvas = Image.new("RGB", size)
    i = 0
    for y in range(0, size[1], th):
        for x in range(0, size[0], tw):
            canvas.paste(tiles[i % len(tiles)], (x, y))
            i += 1
    return canvas


def photos() -> dict[str, Photo]:
    """The three test pictures, made once (they are reused by later runs)."""
    IMAGES_DIR.mkdir(parents=True, exist_ok=True)
    found = {}
    for name, size, fmt in SPECS:
        path = IMAGES_DIR / name
        if not path.exists():
            im = _tiled(size)
            tmp = path.with_suffix(".tmp")
            if fmt == "JPEG":
                # What a camera writes: high quality, 4:2:0, baseline.
                im.save(tmp, "JPEG", quality=92, subsampling=2)
            else:
                im.save(tmp, "PNG", compress_level=6)
            tmp.rename(path)
        found[name] = Photo(label=name, path=path, size=size, format=fmt)
    return found
