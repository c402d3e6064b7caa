"""imaging.py on its own: Pillow in, rendition bytes out, no Django."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageChops, ImageCms, ImageStat

from media_app import imaging
from tests.helpers import cut_in_half_with_end_marker, tiny_jpeg_claiming

MAX = 50_000_000


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def decoded(rendition: imaging.RenditionData) -> Image.Image:
    im = Image.open(io.BytesIO(rendition.data))
    im.load()
    return im


def by_key(result: imaging.Result) -> dict[tuple[str, str], imaging.RenditionData]:
    return {(r.name, r.format): r for r in result.renditions}


def test_sizes_follow_the_longest_side_and_keep_the_aspect():
    data = encode(Image.new("RGB", (6000, 4000), "teal"), "JPEG", quality=90)
    result = imaging.render(data, max_pixels=MAX)
    sizes = {(r.name, r.format): (r.width, r.height) for r in result.renditions}
    assert sizes == {
        ("large", "JPEG"): (2048, 1365),
        ("large", "WEBP"): (2048, 1365),
        ("medium", "JPEG"): (1024, 683),
        ("medium", "WEBP"): (1024, 683),
        ("thumb", "JPEG"): (256, 171),
        ("thumb", "WEBP"): (256, 171),
        # The ladder's other widths, AVIF up to 1024, and the square around the centre.
        ("medium", "AVIF"): (1024, 683),
        ("small", "JPEG"): (640, 427),
        ("small", "WEBP"): (640, 427),
        ("small", "AVIF"): (640, 427),
        ("thumb", "AVIF"): (256, 171),
        ("square", "JPEG"): (512, 512),
        ("square", "WEBP"): (512, 512),
        ("square", "AVIF"): (512, 512),
    }
    for r in result.renditions:
        assert decoded(r).size == (r.width, r.height)
        assert decoded(r).format == r.format


def test_big_jpeg_is_decoded_once_at_reduced_scale(monkeypatch):
    """One decode for all renditions, and JPEG draft mode asks the decoder for 1/2 scale."""
    data = encode(Image.new("RGB", (6000, 4000), "teal"), "JPEG", quality=90)
    from PIL import ImageFile, JpegImagePlugin

    loads, drafts = [], []

    real_file_load = ImageFile.ImageFile.load
    real_jpeg_draft = JpegImagePlugin.JpegImageFile.draft

    def file_load(self):
        if getattr(self, "tile", None):
            loads.append(self.size)
        return real_file_load(self)

    def jpeg_draft(self, mode, size):
        drafts.append(size)
        return real_jpeg_draft(self, mode, size)

    monkeypatch.setattr(ImageFile.ImageFile, "load", file_load)
    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", jpeg_draft)
    imaging.render(data, max_pixels=MAX)
    assert drafts == [(2048, 1365)]
    assert loads == [(3000, 2000)]  # decoded once, straight at half scale


def test_small_pictures_are_never_upscaled():
    data = encode(Image.new("RGB", (300, 200), "red"), "PNG")
    sizes = {(r.width, r.height) for r in imaging.render(data, max_pixels=MAX).renditions}
    assert sizes == {(300, 200), (256, 171), (200, 200)}  # the square is the shorter side


@pytest.mark.parametrize("kind", ["Landscape", "Portrait"])
def test_every_exif_orientation_comes_out_upright(photos, kind):
    reference = None
    for n in range(9):
        result = imaging.render((photos / f"{kind}_{n}.jpg").read_bytes(), max_pixels=MAX)
        assert (result.width, result.height) == ((1800, 1200) if kind == "Landscape" else (1200, 1800))
        thumb = by_key(result)[("thumb", "JPEG")]
        im = decoded(thumb)
        assert (im.width > im.height) == (kind == "Landscape"), (kind, n, im.size)
        for r in result.renditions:
            exif = decoded(r).getexif()
            assert 0x0112 not in exif and 0x8825 not in exif, (kind, n, r.name, r.format)
        # Not only the right shape: the same picture, the right way round.
        if reference is None:
            reference = im.convert("L")
        else:
            diff = ImageStat.Stat(ImageChops.difference(reference, im.convert("L"))).mean[0]
            assert diff < 12, (kind, n, diff)


def test_exif_gps_and_xmp_are_stripped_but_icc_is_kept():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 1
    exif[0x010F] = "Camera maker"
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 24.0)  # GPSLatitude
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/>GPSLatitude</x:xmpmeta>'
    data = encode(Image.new("RGB", (400, 300), "navy"), "JPEG", exif=exif.tobytes(), icc_profile=icc, xmp=xmp)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the input really has GPS
    for r in imaging.render(data, max_pixels=MAX).renditions:
        im = decoded(r)
        assert len(im.getexif()) == 0, (r.name, r.format)
        assert "exif" not in im.info and "xmp" not in im.info
        assert im.info.get("icc_profile") == icc, (r.name, r.format)


def test_cmyk_comes_out_rgb(pillow_images):
    result = imaging.render((pillow_images / "pil_sample_cmyk.jpg").read_bytes(), max_pixels=MAX)
    assert {decoded(r).mode for r in result.renditions} == {"RGB"}


def test_cmyk_with_a_profile_is_converted_through_it():
    cmyk = Image.new("CMYK", (64, 64), (0, 255, 255, 0))  # pure magenta+yellow: red
    # No CMYK profile ships with Pillow; an sRGB-tagged CMYK is refused by lcms, so check only that
    # an unusable profile does not fail the picture.
    data = encode(cmyk, "JPEG", icc_profile=b"not a profile")
    result = imaging.render(data, max_pixels=MAX)
    im = decoded(by_key(result)[("large", "JPEG")])
    assert im.mode == "RGB" and "icc_profile" not in im.info
    r, g, b = im.getpixel((32, 32))
    assert r > 200 and g < 80 and b < 80


def png_16bit_grey(width: int, height: int, value: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\x00" + struct.pack(">H", value) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_16bit_greyscale_is_scaled_not_clipped():
    data = png_16bit_grey(40, 20, 32768)  # mid grey in 16 bits
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    result = imaging.render(data, max_pixels=MAX)
    for r in result.renditions:
        im = decoded(r).convert("L")
        assert 120 <= ImageStat.Stat(im).mean[0] <= 135, (r.format, ImageStat.Stat(im).mean)


def test_transparency_is_kept_as_png_and_webp(pillow_images):
    result = imaging.render((pillow_images / "tiff_16bit_RGBa_target.png").read_bytes(), max_pixels=MAX)
    assert result.has_alpha
    assert {r.format for r in result.renditions} == {"PNG", "WEBP", "AVIF"}
    for r in result.renditions:
        im = decoded(r)
        assert im.mode == "RGBA" and im.getchannel("A").getextrema()[0] < 255


def test_palette_with_transparency_keeps_it():
    im = Image.new("P", (50, 50), 0)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.paste(1, (0, 0, 25, 50))
    data = encode(im, "GIF", transparency=0)
    result = imaging.render(data, max_pixels=MAX)
    assert {r.format for r in result.renditions} == {"PNG", "WEBP", "AVIF"}


def test_an_alpha_channel_that_hides_nothing_is_dropped():
    data = encode(Image.new("RGBA", (80, 60), (10, 200, 30, 255)), "PNG")
    result = imaging.render(data, max_pixels=MAX)
    assert not result.has_alpha
    assert {r.format for r in result.renditions} == {"JPEG", "WEBP", "AVIF"}


def test_greyscale_stays_greyscale_in_jpeg(pillow_images):
    result = imaging.render((pillow_images / "hopper_gray.jpg").read_bytes(), max_pixels=MAX)
    assert decoded(by_key(result)[("large", "JPEG")]).mode == "L"
    assert decoded(by_key(result)[("large", "WEBP")]).mode == "RGB"


def test_jpeg_is_progressive_and_quality_is_an_option():
    data = encode(Image.effect_noise((600, 400), 60).convert("RGB"), "PNG")
    low = imaging.render(data, max_pixels=MAX, options=imaging.EncodeOptions(jpeg_quality=40))
    high = imaging.render(data, max_pixels=MAX, options=imaging.EncodeOptions(jpeg_quality=95))
    low_jpeg, high_jpeg = by_key(low)[("large", "JPEG")], by_key(high)[("large", "JPEG")]
    assert len(low_jpeg.data) < len(high_jpeg.data)
    assert decoded(low_jpeg).info.get("progressive") or decoded(low_jpeg).info.get("progression")


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (40, 40), c) for c in ("red", "blue", "green")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    result = imaging.render(out.getvalue(), max_pixels=MAX)
    r, g, b = decoded(by_key(result)[("large", "JPEG")]).getpixel((20, 20))
    assert r > 200 and g < 60 and b < 60


def test_progress_is_reported_for_every_step():
    seen = []
    imaging.render(
        encode(Image.new("RGB", (100, 80)), "PNG"),
        max_pixels=MAX,
        progress=lambda done, total: seen.append((done, total)),
    )
    # The decode, then 4 widths and the square, each in JPEG, WebP and AVIF (all within 1024).
    assert seen == [(i, 16) for i in range(1, 17)]


# --- refusals -----------------------------------------------------------------------------------


def test_the_44_byte_bomb_is_refused_from_its_header(pillow_images):
    with (
        open(pillow_images / "decompression_bomb.gif", "rb") as fh,
        pytest.raises(imaging.ImageRejected) as err,
    ):
        imaging.probe(fh, max_pixels=MAX)
    assert err.value.reason == "too_many_pixels"
    assert "4,365 megapixels" in err.value.message and "limit is 50 megapixels" in err.value.message


def test_the_pixel_limit_is_a_parameter():
    data = encode(Image.new("RGB", (1000, 1000)), "PNG")
    assert imaging.probe(io.BytesIO(data), max_pixels=1_000_000).width == 1000
    with pytest.raises(imaging.ImageRejected) as err:
        imaging.probe(io.BytesIO(data), max_pixels=999_999)
    assert err.value.reason == "too_many_pixels"
    with pytest.raises(imaging.ImageRejected):
        imaging.render(data, max_pixels=999_999)


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
PSD = (
    b"8BPS\x00\x01" + b"\x00" * 6 + b"\x00\x03\x00\x00\x00\x10\x00\x00\x00\x10\x00\x08\x00\x03" + b"\x00" * 40
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'


@pytest.mark.parametrize(
    "content",
    [EPS, PSD, PDF, SVG, b"just text renamed to .jpg", b""],
    ids=["eps", "psd", "pdf", "svg", "text", "empty"],
)
def test_other_formats_are_refused_before_any_parser_runs(content, monkeypatch):
    from PIL import EpsImagePlugin, PsdImagePlugin

    def forbidden(*args, **kwargs):
        raise AssertionError("a refused format's parser ran")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", forbidden)
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", forbidden)
    monkeypatch.setattr(PsdImagePlugin.PsdImageFile, "_open", forbidden)
    with pytest.raises(imaging.ImageRejected) as err:
        imaging.probe(io.BytesIO(content), max_pixels=MAX)
    assert err.value.reason == "not_an_image"
    assert "not a picture we can read" in err.value.message


def test_eps_and_psd_would_open_in_plain_pillow_so_the_refusal_is_ours():
    # Guard for the test above: without formats=, Pillow hands these bytes to their plugins.
    assert Image.open(io.BytesIO(EPS)).format == "EPS"
    assert Image.open(io.BytesIO(PSD)).format == "PSD"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("broken_data_stream.png", "damaged"),
        ("crash-0c7e0e8e11ce787078f00b5b0ca409a167f070e0.tif", "damaged"),
        ("truncated_image.png", "truncated"),
        ("truncated_jpeg.jpg", "truncated"),
    ],
)
def test_damaged_files_pass_the_header_check_but_fail_to_decode(pillow_images, name, reason):
    data = (pillow_images / name).read_bytes()
    imaging.probe(io.BytesIO(data), max_pixels=MAX)  # the header looks fine
    with pytest.raises(imaging.ImageRejected) as err:
        imaging.render(data, max_pixels=MAX)
    assert err.value.reason == reason
    assert err.value.message in (imaging.MESSAGE_DAMAGED, imaging.MESSAGE_TRUNCATED)


# --- incomplete JPEGs ---------------------------------------------------------------------------


def test_a_photo_cut_in_half_with_an_end_marker_is_refused_not_padded_with_grey(photos):
    data = cut_in_half_with_end_marker((photos / "Landscape_0.jpg").read_bytes())
    # What plain Pillow makes of it: no error, the lower half grey.
    plain = Image.open(io.BytesIO(data))
    plain.load()
    assert plain.crop((0, 1100, 1800, 1200)).getextrema() == ((128, 128),) * 3
    # The header cannot tell (half a photo is big enough for its frame), the decode does.
    assert imaging.probe(io.BytesIO(data), max_pixels=MAX).width == 1800
    with pytest.raises(imaging.ImageRejected) as err:
        imaging.render(data, max_pixels=MAX)
    assert err.value.reason == "truncated"
    assert err.value.message == imaging.MESSAGE_TRUNCATED
    assert err.value.message.startswith("This picture is incomplete")


def test_a_tiny_jpeg_claiming_7000x7000_is_refused_from_its_header_without_decoding(photos, monkeypatch):
    from PIL import ImageFile

    data = tiny_jpeg_claiming(photos / "Landscape_0.jpg")
    assert len(data) < 1000 and Image.open(io.BytesIO(data)).size == (7000, 7000)

    def forbidden(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", forbidden)
    for check in (
        lambda: imaging.probe(io.BytesIO(data), max_pixels=MAX),
        lambda: imaging.render(data, max_pixels=MAX),  # the worker applies the same floor
    ):
        with pytest.raises(imaging.ImageRejected) as err:
            check()
        assert err.value.reason == "truncated"
        assert err.value.message.startswith("This picture is incomplete")
        assert "7000x7000" in err.value.message


@pytest.mark.parametrize("mode", ["L", "RGB"])
@pytest.mark.parametrize(
    "params", [{}, {"progressive": True}, {"subsampling": 0}], ids=["420", "prog", "444"]
)
def test_the_size_floor_holds_for_the_most_compressible_picture(mode, params):
    # One flat colour, optimised Huffman tables: as small as a JPEG of this size gets (about
    # twice the floor), so the floor never refuses a complete file.
    data = encode(Image.new(mode, (4000, 3000), "grey"), "JPEG", optimize=True, **params)
    floor = imaging.jpeg_min_bytes(imaging.jpeg_layout(data))
    assert floor is not None and floor < len(data) < 3 * floor
    assert imaging.probe(io.BytesIO(data), max_pixels=MAX).width == 4000


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.5, 0.8])
def test_a_progressive_photo_cut_short_is_refused(photos, fraction):
    with Image.open(photos / "Landscape_0.jpg") as im:
        data = encode(im, "JPEG", progressive=True, quality=85)
    imaging.render(data, max_pixels=MAX)  # complete: fine
    with pytest.raises(imaging.ImageRejected) as err:
        imaging.render(data[: int(len(data) * fraction)] + b"\xff\xd9", max_pixels=MAX)
    assert err.value.message == imaging.MESSAGE_TRUNCATED


@pytest.mark.parametrize(
    "params", [{}, {"restart_marker_blocks": 4}, {"subsampling": 0}], ids=["plain", "restarts", "444"]
)
def test_complete_jpegs_decode_to_the_same_pixels_without_their_end_marker(photos, params):
    """The look-ahead check decodes a complete scan to exactly what Pillow gives for the file."""
    with Image.open(photos / "Landscape_0.jpg") as im:
        data = encode(im.resize((3000, 2000)), "JPEG", **params)
    layout = imaging.jpeg_layout(data)
    trimmed = data[: layout.eoi] + imaging.JPEG_LOOKAHEAD
    for box in (None, (2048, 1365), (400, 300)):
        a, b = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(trimmed))
        if box:
            a.draft(None, box)
            b.draft(None, box)
        a.load()
        b.load()
        assert a.tobytes() == b.tobytes(), box
    with pytest.raises(imaging.ImageRejected):
        imaging.render(data[: len(data) * 9 // 10] + b"\xff\xd9", max_pixels=MAX)


def test_the_first_picture_of_an_mpo_is_checked_alone(pillow_images):
    data = (pillow_images / "sugarshack.mpo").read_bytes()
    layout = imaging.jpeg_layout(data)
    assert layout.eoi < len(data) // 2  # the first picture's end, not the file's
    assert imaging.render(data, max_pixels=MAX).format == "MPO"


# --- widths, AVIF, placeholders, focal point (issue 15) -----------------------------------------


def test_avif_is_made_up_to_its_side_limit_and_decodes():
    data = encode(Image.effect_noise((3000, 2000), 40).convert("RGB"), "JPEG", quality=90)
    result = imaging.render(data, max_pixels=MAX)
    avif = {r.name: r for r in result.renditions if r.format == "AVIF"}
    assert set(avif) == {"medium", "small", "thumb", "square"}  # not large: 2048 > 1024
    for r in avif.values():
        im = decoded(r)
        assert im.format == "AVIF" and im.size == (r.width, r.height) and im.mode == "RGB"
        assert len(im.getexif()) == 0
    none = imaging.render(data, max_pixels=MAX, options=imaging.EncodeOptions(avif_max_side=0))
    assert {r.format for r in none.renditions} == {"JPEG", "WEBP"}


@pytest.mark.parametrize(("name", "aspect"), [("Landscape_6.jpg", 1.5), ("Portrait_3.jpg", 2 / 3)])
def test_the_placeholder_decodes_to_the_pictures_aspect(photos, name, aspect):
    from media_app import thumbhash

    result = imaging.render((photos / name).read_bytes(), max_pixels=MAX)
    assert 20 <= len(result.placeholder) <= 25
    width, height, rgba = thumbhash.decode(result.placeholder)
    assert len(rgba) == width * height * 4 and max(width, height) == 32
    # ThumbHash keeps the aspect to the precision of its luminance terms (7 on the long side).
    assert abs(width / height - aspect) / aspect < 0.1, (width, height)
    # And it looks like the picture: its average colour is the thumbnail's.
    preview = Image.frombytes("RGBA", (width, height), rgba).convert("RGB")
    thumb = decoded(by_key(result)[("thumb", "JPEG")]).convert("RGB")
    for a, b in zip(ImageStat.Stat(preview).mean, ImageStat.Stat(thumb).mean, strict=True):
        assert abs(a - b) < 20


def vector(width: int, height: int, alpha: bool) -> bytes:
    out = bytearray(width * height * 4)
    for y in range(height):
        for x in range(width):
            i = 4 * (y * width + x)
            out[i : i + 3] = bytes((x * 255 // (width - 1), y * 255 // (height - 1), (x + y) % 2 * 255))
            out[i + 3] = 255 if not alpha or x < width / 2 else y * 255 // (height - 1)
    return bytes(out)


# From the reference implementation (npm thumbhash 0.1.1, rgbaToThumbHash) on vector(...).
REFERENCE_HASHES = [
    ((64, 48, False), "3wcKPZqAh4dweHiIiHiHiICACPh3"),
    ((30, 90, True), "37eJMg4rYHCXd4dgcAn2bI91s2h4eIg="),
]


@pytest.mark.parametrize(("args", "expected"), REFERENCE_HASHES)
def test_thumbhash_matches_the_reference_encoder(args, expected):
    """Byte for byte, but for a factor that lands on a rounding edge: the separable DCT sums in
    another order, so at most one 4-bit factor may differ, by one step."""
    import base64

    from media_app import thumbhash

    ours, theirs = thumbhash.encode(args[0], args[1], vector(*args)), base64.b64decode(expected)
    assert len(ours) == len(theirs) and ours[:5] == theirs[:5]  # header: colours, scales, shape
    nibbles = [(a >> s & 15, b >> s & 15) for a, b in zip(ours, theirs, strict=True) for s in (0, 4)]
    assert sum(abs(a - b) for a, b in nibbles) <= 1


def marked(size: tuple[int, int], at: tuple[float, float]) -> bytes:
    """A blue picture with a red disc at ``at`` (fractions), as PNG."""
    im = Image.new("RGB", size, (0, 0, 255))
    cx, cy, r = at[0] * size[0], at[1] * size[1], 12
    from PIL import ImageDraw

    ImageDraw.Draw(im).ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 0, 0))
    return encode(im, "PNG")


def red_centre(im: Image.Image) -> tuple[float, float] | None:
    """Where the red disc is in a picture, as fractions; None if it is not in it."""
    red = Image.eval(im.convert("RGB").split()[0], lambda v: 255 if v > 160 else 0)
    box = red.getbbox()
    if box is None:
        return None
    return ((box[0] + box[2]) / 2 / im.width, (box[1] + box[3]) / 2 / im.height)


@pytest.mark.parametrize(
    ("size", "focal"),
    [
        ((1800, 1200), (0.9, 0.2)),
        ((1800, 1200), (0.05, 0.95)),
        ((1200, 1800), (0.3, 0.85)),
        ((900, 600), (0.5, 0.5)),
    ],
)
def test_square_crops_keep_the_focal_point_inside(size, focal):
    result = imaging.render(
        marked(size, focal), focal=imaging.FocalPoint(*focal), max_pixels=MAX, placeholder=False
    )
    squares = [r for r in result.renditions if r.name == "square"]
    assert {r.format for r in squares} == {"JPEG", "WEBP", "AVIF"}
    side = min(min(size), 512)
    left, top, right, bottom = imaging.square_box(size, imaging.FocalPoint(*focal))
    assert right - left == bottom - top == min(size)
    assert left <= focal[0] * size[0] <= right and top <= focal[1] * size[1] <= bottom
    for r in squares:
        im = decoded(r)
        assert im.size == (side, side), r.format
        found = red_centre(im)
        assert found is not None, (r.format, "the focal point was cropped away")
        # Where it should be in the crop, to within the disc's size.
        expected = ((focal[0] * size[0] - left) / min(size), (focal[1] * size[1] - top) / min(size))
        assert abs(found[0] - expected[0]) < 0.03 and abs(found[1] - expected[1]) < 0.03, (found, expected)


def test_the_default_square_is_the_centre():
    result = imaging.render(marked((1600, 900), (0.5, 0.5)), max_pixels=MAX, placeholder=False)
    [square] = [r for r in result.renditions if r.name == "square" and r.format == "JPEG"]
    found = red_centre(decoded(square))
    assert found is not None and abs(found[0] - 0.5) < 0.03 and abs(found[1] - 0.5) < 0.03
