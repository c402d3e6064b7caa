"""Pure Pillow work: a picture file in, rendition bytes out. Nothing here knows Django or the ORM.

Policies (also in the README):

- Inputs: JPEG, MPO, PNG (APNG), WebP, GIF, TIFF, BMP, HEIC/HEIF (pillow-heif) and AVIF (Pillow's
  own plugin). ``Image.open(..., formats=ALLOWED_FORMATS)`` means no other plugin ever sees the
  bytes, so EPS (Ghostscript), PSD, PDF or SVG are refused before any parser runs.
- Animated GIF, WebP, PNG and AVIF: the first frame is used; renditions are still pictures.
- Transparency: an image whose alpha channel is really used gets PNG + WebP renditions (both keep
  alpha; PNG is the fallback every browser reads). Opaque images get JPEG + WebP. An alpha channel
  that is fully opaque is dropped.
- Colour: CMYK with an embedded profile is converted to sRGB through that profile (and the sRGB
  profile is embedded); without one, Pillow's plain conversion. An ICC profile is kept when it
  matches the output's colour space. 16-bit greyscale is scaled to 8 bits, not clipped.
- Metadata: outputs carry no EXIF, XMP or GPS; orientation is applied to the pixels instead.
- Speed: one decode for every rendition. JPEG is decoded straight at 1/2, 1/4 or 1/8 scale when
  the largest rendition allows it (draft mode); each smaller rendition is resized from the one
  before it with ``reducing_gap``. WebP uses ``method=4`` (libwebp's default): 5 and 6 cost
  roughly 1.5-3x the time for 1-3% smaller files.
- Truncated files are refused, not padded with grey (``LOAD_TRUNCATED_IMAGES`` stays off). Pillow
  raises for a file that just stops, but libjpeg pads a JPEG whose scan data ends early at a
  marker (a cut file with an end-of-image marker appended) with grey and only warns, and Pillow
  drops that warning. So a JPEG's markers are read first (``jpeg_layout``, a cheap walk that skips
  the entropy-coded data) and the picture is refused as incomplete when:
  - the file is smaller than any complete file of that size can be: a Huffman-coded JPEG spends at
    least one bit on each 8x8 block of each component (its DC code), so it holds at least
    blocks / 8 bytes. Checked at upload, from the header; a 633-byte file claiming 7000x7000 needs
    ~96 kB. Arithmetic-coded files (rare; no browser shows them) have no such floor and pass;
  - a progressive file's scans do not bring every coefficient of every component to full
    precision (the scans after the cut are missing), or a sequential file's scans miss a component;
  - a single-scan sequential file (the common kind) is decoded with its end-of-image marker
    replaced by a few zero bytes: a complete scan needs them only as look-ahead and decodes to the
    same pixels, while a cut one runs out of data and Pillow reports it truncated, in the same
    single decode. A cut inside the last scan of a multi-scan file is not seen; with libjpeg's
    progression that scan only refines the lowest bit, so nothing grey is shown.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import pillow_heif
from PIL import Image, ImageCms

from . import thumbhash

pillow_heif.register_heif_opener()

# The plugins Image.open may try; MPO files are opened by the JPEG plugin, which reports "MPO".
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "HEIF", "AVIF")
ACCEPTED_NAMES = "JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC/HEIF and AVIF"
# What the upload form's file picker suggests; the server checks the content regardless.
ACCEPT_ATTRIBUTE = "image/*,.heic,.heif,.avif"
EXTENSIONS = {
    "JPEG": "jpg",
    "MPO": "jpg",
    "PNG": "png",
    "WEBP": "webp",
    "GIF": "gif",
    "TIFF": "tif",
    "BMP": "bmp",
    "HEIF": "heic",
    "AVIF": "avif",
}
CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "TIFF": "image/tiff",
    "BMP": "image/bmp",
    "HEIF": "image/heic",
    "AVIF": "image/avif",
}

MESSAGE_NOT_AN_IMAGE = f"This file is not a picture we can read. We accept {ACCEPTED_NAMES}."
MESSAGE_TOO_MANY_PIXELS = (
    "This picture has too many pixels to process safely ({pixels}; the limit is {limit} megapixels)."
)
MESSAGE_DAMAGED = "This picture is damaged and could not be decoded."
MESSAGE_TRUNCATED = "This picture is incomplete: the file was cut off."
MESSAGE_TOO_SMALL = (
    "This picture is incomplete: the file is far too small to hold the {width}x{height} pixels it declares."
)
MESSAGE_UNSUPPORTED_COLOUR = "This picture uses a colour format we cannot convert."

# EXIF Orientation -> the transpose that makes the pixels upright (as ImageOps.exif_transpose).
ORIENTATION_TAG = 0x0112
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
SWAPS_AXES = {5, 6, 7, 8}
# Each resize first reduces by an integer factor (fast box filter) while the remaining factor
# stays above this gap; 2.0 is what Image.thumbnail uses and is visually indistinguishable here.
REDUCING_GAP = 2.0
AVIF_THREADS = 1

# JPEG markers (ITU T.81, table B.1): every SOFn but DHT (C4), JPG (C8) and DAC (CC).
JPEG_SOI = b"\xff\xd8"
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
HUFFMAN_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3})  # baseline, extended, progressive, lossless
PROGRESSIVE_SOF = frozenset({0xC2, 0xCA})
SINGLE_SCAN_SOF = frozenset({0xC0, 0xC1, 0xC3})  # Huffman-coded sequential: the look-ahead check
# The next marker: FF and a code. In entropy-coded data FF is followed by 00 (a stuffed byte) or
# D0-D7 (a restart), which do not end it; FF FF is fill before a marker.
JPEG_MARKER = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")
# What a complete scan may read past its last bit: libjpeg-turbo keeps up to 57 bits buffered.
JPEG_LOOKAHEAD = bytes(16)
# How far into an upload the probe looks for a JPEG's frame header (APP segments come first).
JPEG_HEADER_BYTES = 1 << 20


class ImageRejected(Exception):
    """This file will not become renditions. ``message`` is for its owner; ``reason`` for statistics."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class Probe:
    format: str
    width: int  # upright
    height: int

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


@dataclass(frozen=True)
class JpegScan:
    components: tuple[int, ...]
    start: int  # Ss, Se: the coefficients it carries (0 is DC)
    end: int
    low_bit: int  # Al: 0 once these coefficients have their full precision


@dataclass(frozen=True)
class JpegLayout:
    sof: int | None  # the frame's marker code (0xC0 baseline, 0xC2 progressive…); None if unseen
    width: int
    height: int
    components: tuple[tuple[int, int, int], ...]  # (id, horizontal, vertical sampling factor)
    scans: tuple[JpegScan, ...]
    eoi: int | None  # offset of the end-of-image marker closing the first picture, if any


@dataclass(frozen=True)
class RenditionSpec:
    name: str
    max_side: int
    # A square crop around the focal point, max_side on each side (never upscaled).
    square: bool = False


@dataclass(frozen=True)
class EncodeOptions:
    jpeg_quality: int = 82
    webp_quality: int = 80
    webp_method: int = 4
    avif_quality: int = 65
    avif_speed: int = 9
    # Renditions up to this side also get AVIF (see AVIF in the policies above).
    avif_max_side: int = 1024


@dataclass(frozen=True)
class FocalPoint:
    """Where the picture's subject is, as fractions of its upright width and height."""

    x: float = 0.5
    y: float = 0.5


CENTRE = FocalPoint()


@dataclass(frozen=True)
class RenditionData:
    name: str
    format: str  # JPEG, PNG, WEBP or AVIF
    data: bytes
    width: int
    height: int


@dataclass
class Result:
    format: str
    width: int  # upright
    height: int
    has_alpha: bool
    renditions: list[RenditionData] = field(default_factory=list)
    # The ThumbHash of the upright picture (thumbhash.py); b"" when only squares were made.
    placeholder: bytes = b""


DEFAULT_SPECS = (
    RenditionSpec("large", 2048),
    RenditionSpec("medium", 1024),
    RenditionSpec("small", 640),
    RenditionSpec("thumb", 256),
    RenditionSpec("square", 512, square=True),
)


def probe(fp: BinaryIO, *, max_pixels: int) -> Probe:
    """Read the header only: format by content, size and orientation. Never decodes pixels."""
    # As a context manager, Pillow closes only a file it opened itself, never the caller's.
    with _open(fp, max_pixels=max_pixels) as im:
        orientation = _orientation(im, decoded=False)
        width, height = im.size
        if orientation in SWAPS_AXES:
            width, height = height, width
        found = Probe(format=im.format, width=width, height=height)
    if found.format in ("JPEG", "MPO"):
        _refuse_impossible_jpeg(_jpeg_header(fp))
    return found


def formats_for(size: tuple[int, int], *, has_alpha: bool, options: EncodeOptions) -> tuple[str, ...]:
    """The files a rendition of this size is written as: a fallback every browser reads, WebP,
    and AVIF when it is small enough to be worth its encoding time."""
    formats = ("PNG", "WEBP") if has_alpha else ("JPEG", "WEBP")
    return (*formats, "AVIF") if max(size) <= options.avif_max_side else formats


def render(
    data: bytes,
    *,
    specs: Sequence[RenditionSpec] = DEFAULT_SPECS,
    options: EncodeOptions = EncodeOptions(),
    focal: FocalPoint = CENTRE,
    max_pixels: int,
    placeholder: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    """Decode once and encode every rendition. Raises ImageRejected for files we will not process.

    Resized renditions are made largest first, each from the one before; squares are cut from the
    decoded picture around ``focal``. ``progress(done, total)`` counts the decode and each file."""
    ladder = sorted((s for s in specs if not s.square), key=lambda s: s.max_side, reverse=True)
    squares = [s for s in specs if s.square]

    def cover(upright: tuple[int, int]) -> tuple[int, int]:
        # The smallest decode that still serves the largest rendition and every square.
        box = fit(upright, ladder[0].max_side) if ladder else (1, 1)
        for spec in squares:
            box = tuple(max(a, b) for a, b in zip(box, _square_cover(upright, spec.max_side), strict=True))
        return box

    im, icc, source_format, upright = _load(data, max_pixels=max_pixels, cover=cover)
    has_alpha = im.mode == "RGBA"
    sizes = [fit(upright, s.max_side) for s in ladder]
    sizes += [(min(s.max_side, *upright),) * 2 for s in squares]
    total = 1 + sum(len(formats_for(size, has_alpha=has_alpha, options=options)) for size in sizes)
    done = 1
    if progress:
        progress(done, total)

    result = Result(format=source_format, width=upright[0], height=upright[1], has_alpha=has_alpha)

    def emit(spec: RenditionSpec, picture: Image.Image) -> None:
        nonlocal done
        for fmt in formats_for(picture.size, has_alpha=has_alpha, options=options):
            encoded = _encode(picture, fmt, icc, options)
            result.renditions.append(RenditionData(spec.name, fmt, encoded, *picture.size))
            done += 1
            if progress:
                progress(done, total)

    current, made = im, [im]
    for spec in ladder:
        size = fit(upright, spec.max_side)
        if current.size != size:
            current = current.resize(size, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
            made.append(current)
        emit(spec, current)
    for spec in squares:
        # Cut from the smallest picture made that still holds the square: far less to resample
        # than the decoded one, and the same pixels at that size.
        source = min((p for p in made if min(p.size) >= spec.max_side), key=lambda p: p.width, default=im)
        emit(spec, _square(source, spec.max_side, focal))
    if placeholder:
        result.placeholder = placeholder_hash(current)
    return result


def placeholder_hash(im: Image.Image) -> bytes:
    """The ThumbHash of a picture: shrunk to fit 100x100 first (more pixels change nothing)."""
    small = im.convert("RGBA")
    small.thumbnail((thumbhash.MAX_SIDE, thumbhash.MAX_SIDE), Image.Resampling.BILINEAR)
    return thumbhash.encode(small.width, small.height, small.tobytes())


def square_box(size: tuple[int, int], focal: FocalPoint) -> tuple[int, int, int, int]:
    """The largest square of a picture that is centred on the focal point as far as the edges
    allow; the focal point is always inside it."""
    width, height = size
    side = min(width, height)
    fx = min(max(focal.x, 0.0), 1.0) * width
    fy = min(max(focal.y, 0.0), 1.0) * height
    left = min(max(round(fx - side / 2), 0), width - side)
    top = min(max(round(fy - side / 2), 0), height - side)
    return left, top, left + side, top + side


def fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """The size that fits in a max_side square with the same aspect. Never larger than ``size``."""
    width, height = size
    longest = max(width, height)
    if longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def jpeg_layout(data: bytes, *, headers_only: bool = False) -> JpegLayout | None:
    """The markers of a JPEG's first picture, skipping its entropy-coded data; None if not a JPEG.

    Never decodes. ``headers_only`` stops at the first scan (enough for the frame header)."""
    if not data.startswith(JPEG_SOI):
        return None
    sof, width, height, components, scans, eoi = None, 0, 0, (), [], None
    pos = 2
    while (match := JPEG_MARKER.search(data, pos)) is not None:
        code, pos = data[match.start() + 1], match.end()
        if code == 0xD9:
            eoi = match.start()
            break
        if code in (0x01, 0xD8):  # TEM and a stray SOI have no length
            continue
        length = int.from_bytes(data[pos : pos + 2], "big")
        segment = data[pos + 2 : pos + length]
        if length < 2 or len(segment) < length - 2:
            break  # cut inside a header
        pos += length
        if code in SOF_MARKERS and sof is None and len(segment) >= 6:
            height, width = int.from_bytes(segment[1:3], "big"), int.from_bytes(segment[3:5], "big")
            fields = [segment[i : i + 3] for i in range(6, 6 + 3 * segment[5], 3)]
            components = tuple((f[0], f[1] >> 4, f[1] & 15) for f in fields if len(f) == 3)
            sof = code
        elif code == 0xDA and segment:
            count = segment[0]
            if len(segment) < 4 + 2 * count:
                break
            ss, se, approximation = segment[1 + 2 * count : 4 + 2 * count]
            scans.append(JpegScan(tuple(segment[1 : 1 + 2 * count : 2]), ss, se, approximation & 15))
            if headers_only:
                break
    return JpegLayout(sof, width, height, components, tuple(scans), eoi)


def jpeg_min_bytes(layout: JpegLayout) -> int | None:
    """The fewest bytes any complete file with this frame can have; None where there is no floor.

    Huffman coding spends at least one bit on each 8x8 block of each component (its DC code is at
    least one bit long, in sequential and progressive files alike), so the scans alone hold at
    least blocks / 8 bytes. Arithmetic coding can spend less than a bit on a block: no floor."""
    if layout.sof not in HUFFMAN_SOF or not layout.components:
        return None
    h_max = max(max(h for _, h, _ in layout.components), 1)
    v_max = max(max(v for _, _, v in layout.components), 1)
    blocks = sum(
        _ceil(_ceil(layout.width * h, h_max), 8) * _ceil(_ceil(layout.height * v, v_max), 8)
        for _, h, v in layout.components
    )
    return _ceil(blocks, 8)


# --- internals ----------------------------------------------------------------------------------


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _jpeg_header(fp: BinaryIO) -> tuple[JpegLayout | None, int]:
    """The frame header and the size of an upload, read without its pixels; fp is left at its start."""
    fp.seek(0)
    head = fp.read(JPEG_HEADER_BYTES)
    size = fp.seek(0, io.SEEK_END)
    fp.seek(0)
    return jpeg_layout(head, headers_only=True), size


def _refuse_impossible_jpeg(header: tuple[JpegLayout | None, int]) -> None:
    layout, size = header
    floor = jpeg_min_bytes(layout) if layout else None
    if floor is not None and size < floor:
        raise ImageRejected(
            MESSAGE_TOO_SMALL.format(width=layout.width, height=layout.height), reason="truncated"
        )


def _complete_jpeg(data: bytes) -> bytes:
    """Refuse a JPEG that is incomplete; return the bytes to decode (see the policies above)."""
    layout = jpeg_layout(data)
    if layout is None or layout.sof is None:
        return data  # Pillow opened it, so let its decoder judge
    _refuse_impossible_jpeg((layout, len(data)))
    ids = {c for c, _, _ in layout.components}
    if layout.sof in PROGRESSIVE_SOF:
        final = {
            (c, k)
            for s in layout.scans
            if s.low_bit == 0
            for c in s.components
            for k in range(s.start, s.end + 1)
        }
        missing = any((c, k) not in final for c in ids for k in range(64))
    else:
        missing = not ids <= {c for s in layout.scans for c in s.components}
    if missing:
        raise ImageRejected(MESSAGE_TRUNCATED, reason="truncated")
    if layout.sof in SINGLE_SCAN_SOF and len(layout.scans) == 1 and layout.eoi is not None:
        # Without its end marker, a scan cut short runs out of data instead of being padded.
        return data[: layout.eoi] + JPEG_LOOKAHEAD
    return data


def _load(
    data: bytes, *, max_pixels: int, cover: Callable[[tuple[int, int]], tuple[int, int]]
) -> tuple[Image.Image, bytes | None, str, tuple[int, int]]:
    """Open, check, decode (JPEG straight at the smallest scale that still covers ``cover`` of
    the upright size), convert and turn upright: (picture, ICC profile, source format, size)."""
    im = _open(io.BytesIO(data), max_pixels=max_pixels)
    source_format = im.format
    if source_format in ("JPEG", "MPO"):
        decodable = _complete_jpeg(data)
        if decodable is not data:
            im = _open(io.BytesIO(decodable), max_pixels=max_pixels)
    stored = im.size
    orientation = _orientation(im, decoded=False)
    upright = (stored[1], stored[0]) if orientation in SWAPS_AXES else stored
    box = cover(upright)
    if box[0] < upright[0] or box[1] < upright[1]:
        box = (box[1], box[0]) if orientation in SWAPS_AXES else box
        # JPEG decodes directly at the smallest of 1/1..1/8 scale that still covers the box;
        # other formats ignore it.
        im.draft(None, box)
    _decode(im)
    # PNG may carry its EXIF after the pixels: only now is the orientation certain.
    orientation = _orientation(im, decoded=True)
    upright = (stored[1], stored[0]) if orientation in SWAPS_AXES else stored
    icc = im.info.get("icc_profile") or None
    im, icc = _to_output_mode(im, icc)
    if orientation in TRANSPOSE:
        im = im.transpose(TRANSPOSE[orientation])
    return im, icc, source_format, upright


def _square_cover(upright: tuple[int, int], side: int) -> tuple[int, int]:
    """The decoded size whose shorter side still holds a ``side`` square (or the full size)."""
    short = min(upright)
    if short <= side:
        return upright
    return _ceil(upright[0] * side, short), _ceil(upright[1] * side, short)


def _square(im: Image.Image, side: int, focal: FocalPoint) -> Image.Image:
    crop = im.crop(square_box(im.size, focal))
    if crop.width > side:
        crop = crop.resize((side, side), Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
    return crop


def _open(fp: BinaryIO, *, max_pixels: int) -> Image.Image:
    try:
        im = Image.open(fp, formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(_claimed_pixels(str(exc)), max_pixels) from exc
    except Exception as exc:  # Pillow's plugins raise many types for a bad header
        raise ImageRejected(MESSAGE_NOT_AN_IMAGE, reason="not_an_image") from exc
    width, height = im.size
    if width < 1 or height < 1:
        im.__exit__()
        raise ImageRejected(MESSAGE_NOT_AN_IMAGE, reason="not_an_image")
    if width * height > max_pixels:
        im.__exit__()
        raise _too_many_pixels(width * height, max_pixels)
    return im


def _claimed_pixels(message: str) -> int | None:
    match = re.search(r"\((\d+) pixels\)", message)
    return int(match.group(1)) if match else None


def _too_many_pixels(pixels: int | None, max_pixels: int) -> ImageRejected:
    shown = f"{pixels / 1e6:,.0f} megapixels" if pixels else "far too many"
    return ImageRejected(
        MESSAGE_TOO_MANY_PIXELS.format(pixels=shown, limit=f"{max_pixels / 1e6:g}"),
        reason="too_many_pixels",
    )


def _orientation(im: Image.Image, *, decoded: bool) -> int:
    if not decoded and im.format == "PNG" and "exif" not in im.info:
        # PngImageFile.getexif() would decode the pixels to look for an eXIf chunk after them.
        return 1
    # Malformed EXIF must not fail a good picture: it only loses its orientation.
    try:
        value = im.getexif().get(ORIENTATION_TAG, 1)
        return int(value) if int(value) in TRANSPOSE else 1
    except Exception:
        return 1


def _decode(im: Image.Image) -> None:
    try:
        im.load()
    except MemoryError:
        raise
    except Exception as exc:
        if "truncated" in str(exc).lower():
            raise ImageRejected(MESSAGE_TRUNCATED, reason="truncated") from exc
        raise ImageRejected(MESSAGE_DAMAGED, reason="damaged") from exc


SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
SRGB_BYTES = SRGB.tobytes()


def _profile(icc: bytes | None) -> ImageCms.ImageCmsProfile | None:
    if not icc:
        return None
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except Exception:
        return None


def _to_output_mode(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Convert any decoded mode to L, RGB or RGBA; return the ICC profile that still applies."""
    profile = _profile(icc)
    space = profile.profile.xcolor_space.strip() if profile else None
    mode = im.mode
    try:
        if mode == "CMYK":
            if space == "CMYK":
                im = ImageCms.profileToProfile(im, profile, SRGB, outputMode="RGB")
                return _clean(im), SRGB_BYTES
            im = im.convert("RGB")
        elif mode.startswith(("I", "F")):
            im = _to_8bit_grey(im)
        elif mode == "1":
            im = im.convert("L")
        elif mode == "P":
            im = im.convert("RGBA" if im.has_transparency_data else "RGB")
        elif mode in ("RGBa", "LA", "La", "PA"):
            im = im.convert("RGBA")
        elif mode not in ("L", "RGB", "RGBA"):
            im = im.convert("RGB")  # RGBX, YCbCr, LAB, HSV
    except ValueError as exc:
        raise ImageRejected(MESSAGE_UNSUPPORTED_COLOUR, reason="colour") from exc
    if im.mode == "RGBA" and im.getchannel("A").getextrema()[0] == 255:
        # An alpha channel that hides nothing: treat the picture as opaque (JPEG + WebP).
        im = im.convert("RGB")
    wanted = "GRAY" if im.mode == "L" else "RGB"
    return _clean(im), icc if space == wanted else None


def _to_8bit_grey(im: Image.Image) -> Image.Image:
    """16- and 32-bit greyscale to 8 bits by scaling (a plain convert would clip to white)."""
    if im.mode != "F":
        im = im.convert("I")
    _low, high = im.getextrema()
    if im.mode == "F" and high <= 1.0:
        im = im.point(lambda v: v * 255)
    elif high > 255:
        scale = 255 / (65535 if high <= 65535 else high)
        im = im.point(lambda v: v * scale)
    return im.convert("L")


def _clean(im: Image.Image) -> Image.Image:
    # Encoders fall back to im.info for some metadata (XMP in JPEG and WebP, for instance); with
    # nothing in it, only what _encode passes is written.
    im.info = {}
    return im


def _encode(im: Image.Image, fmt: str, icc: bytes | None, options: EncodeOptions) -> bytes:
    out = io.BytesIO()
    extra = {"icc_profile": icc} if icc else {}
    if fmt == "JPEG":
        im.save(out, "JPEG", quality=options.jpeg_quality, optimize=True, progressive=True, **extra)
    elif fmt == "WEBP":
        if im.mode == "L":
            # WebP has no greyscale: it becomes RGB, where a grey ICC profile no longer applies.
            im, extra = _clean(im.convert("RGB")), {}
        im.save(out, "WEBP", quality=options.webp_quality, method=options.webp_method, **extra)
    elif fmt == "PNG":
        im.save(out, "PNG", compress_level=6, **extra)
    elif fmt == "AVIF":
        # One thread: a media worker runs one process per core, so threads would only contend.
        im.save(
            out,
            "AVIF",
            quality=options.avif_quality,
            speed=options.avif_speed,
            max_threads=AVIF_THREADS,
            **extra,
        )
    else:
        raise ValueError(f"unknown rendition format {fmt}")
    return out.getvalue()
