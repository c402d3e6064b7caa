"""ThumbHash (Evan Wallace's format, https://evanw.github.io/thumbhash/): a picture's blurred
preview in about 25 bytes, with its aspect ratio and alpha. Pure Python, no ORM.

``encode`` takes at most 100x100 RGBA pixels (the worker passes the upright picture shrunk to fit
100x100: more pixels change nothing in the hash); ``decode`` gives the 32-pixel preview that
media_app/static/media_app/thumbhash.js draws into a canvas on the pages. The two follow the
reference implementation step for step, so a hash made here decodes the same in the browser.

The DCT is computed separably (rows first, then columns), so the encoder costs
O(pixels x rows of coefficients) rather than O(pixels x coefficients): a few milliseconds.
"""

from __future__ import annotations

from math import cos, floor, pi

MAX_SIDE = 100


def _round(value: float) -> int:
    # JavaScript's Math.round (halves go up): Python's round() halves to even, which made one
    # factor in a few hashes differ from the reference's.
    return floor(value + 0.5)


def encode(width: int, height: int, rgba: bytes) -> bytes:  # noqa: C901 - the reference encoder, step for step (see the module docstring)
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ValueError(f"{width}x{height} does not fit in {MAX_SIDE}x{MAX_SIDE}")
    if len(rgba) != width * height * 4:
        raise ValueError("rgba must hold width * height * 4 bytes")
    n = width * height
    avg_r = avg_g = avg_b = avg_a = 0.0
    for j in range(0, 4 * n, 4):
        alpha = rgba[j + 3] / 255
        avg_r += alpha / 255 * rgba[j]
        avg_g += alpha / 255 * rgba[j + 1]
        avg_b += alpha / 255 * rgba[j + 2]
        avg_a += alpha
    if avg_a:
        avg_r, avg_g, avg_b = avg_r / avg_a, avg_g / avg_a, avg_b / avg_a

    has_alpha = avg_a < n
    l_limit = 5 if has_alpha else 7  # fewer luminance terms when alpha needs room
    longest = max(width, height)
    lx = max(1, _round(l_limit * width / longest))
    ly = max(1, _round(l_limit * height / longest))
    lum, yb, rg, al = [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n
    # RGBA to LPQA, composited over the average colour.
    for i in range(n):
        j = 4 * i
        alpha = rgba[j + 3] / 255
        r = avg_r * (1 - alpha) + alpha / 255 * rgba[j]
        g = avg_g * (1 - alpha) + alpha / 255 * rgba[j + 1]
        b = avg_b * (1 - alpha) + alpha / 255 * rgba[j + 2]
        lum[i] = (r + g + b) / 3
        yb[i] = (r + g) / 2 - b
        rg[i] = r - g
        al[i] = alpha

    def channel(values: list[float], nx: int, ny: int) -> tuple[float, list[float], float]:
        # rows[cy][x] = sum over y of values[x, y] * cos(pi / h * cy * (y + 0.5))
        rows = []
        for cy in range(ny):
            acc = [0.0] * width
            for y in range(height):
                fy = cos(pi / height * cy * (y + 0.5))
                base = y * width
                for x in range(width):
                    acc[x] += values[base + x] * fy
            rows.append(acc)
        dc, ac, scale = 0.0, [], 0.0
        for cy in range(ny):
            cx = 0
            while cx * ny < nx * (ny - cy):
                row = rows[cy]
                f = sum(row[x] * cos(pi / width * cx * (x + 0.5)) for x in range(width)) / n
                if cx or cy:
                    ac.append(f)
                    scale = max(scale, abs(f))
                else:
                    dc = f
                cx += 1
        if scale:
            ac = [0.5 + 0.5 / scale * f for f in ac]
        return dc, ac, scale

    l_dc, l_ac, l_scale = channel(lum, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = channel(yb, 3, 3)
    q_dc, q_ac, q_scale = channel(rg, 3, 3)
    if has_alpha:
        a_dc, a_ac, a_scale = channel(al, 5, 5)

    landscape = width > height
    header24 = (
        _round(63 * l_dc)
        | (_round(31.5 + 31.5 * p_dc) << 6)
        | (_round(31.5 + 31.5 * q_dc) << 12)
        | (_round(31 * l_scale) << 18)
        | (int(has_alpha) << 23)
    )
    header16 = (ly if landscape else lx) | (_round(63 * p_scale) << 3) | (_round(63 * q_scale) << 9)
    header16 |= int(landscape) << 15
    out = [header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8]
    if has_alpha:
        out.append(_round(15 * a_dc) | (_round(15 * a_scale) << 4))
    factors = [*l_ac, *p_ac, *q_ac, *(a_ac if has_alpha else [])]
    start = len(out)
    out.extend([0] * ((len(factors) + 1) // 2))
    for index, f in enumerate(factors):
        out[start + (index >> 1)] |= _round(15 * f) << ((index & 1) << 2)
    return bytes(out)


def aspect_ratio(hash_: bytes) -> float:
    """Width / height as the hash records it (approximate: the luminance term counts)."""
    lx, ly = _luminance_terms(hash_, at_least=1)
    return lx / ly


def decode(hash_: bytes) -> tuple[int, int, bytes]:  # noqa: C901 - the reference decoder, step for step (see the module docstring)
    """The preview: (width, height, RGBA bytes), at most 32 pixels on its longer side."""
    header24 = hash_[0] | (hash_[1] << 8) | (hash_[2] << 16)
    header16 = hash_[3] | (hash_[4] << 8)
    l_dc = (header24 & 63) / 63
    p_dc = ((header24 >> 6) & 63) / 31.5 - 1
    q_dc = ((header24 >> 12) & 63) / 31.5 - 1
    l_scale = ((header24 >> 18) & 31) / 31
    has_alpha = bool(header24 >> 23)
    p_scale = ((header16 >> 3) & 63) / 63
    q_scale = ((header16 >> 9) & 63) / 63
    lx, ly = _luminance_terms(hash_, at_least=3)
    a_dc = (hash_[5] & 15) / 15 if has_alpha else 1.0
    a_scale = (hash_[5] >> 4) / 15 if has_alpha else 0.0

    start = 6 if has_alpha else 5
    index = 0

    def factors(nx: int, ny: int, scale: float) -> list[float]:
        nonlocal index
        ac = []
        for cy in range(ny):
            cx = 0 if cy else 1
            while cx * ny < nx * (ny - cy):
                nibble = (hash_[start + (index >> 1)] >> ((index & 1) << 2)) & 15
                ac.append((nibble / 7.5 - 1) * scale)
                index += 1
                cx += 1
        return ac

    l_ac = factors(lx, ly, l_scale)
    # Saturation boosted by 1.25 to make up for quantisation, as the reference does.
    p_ac = factors(3, 3, p_scale * 1.25)
    q_ac = factors(3, 3, q_scale * 1.25)
    a_ac = factors(5, 5, a_scale) if has_alpha else []

    ratio = aspect_ratio(hash_)
    w = _round(32 if ratio > 1 else 32 * ratio)
    h = _round(32 / ratio if ratio > 1 else 32)
    out = bytearray(w * h * 4)
    nfx = max(lx, 5 if has_alpha else 3)
    nfy = max(ly, 5 if has_alpha else 3)
    i = 0
    for y in range(h):
        fy = [cos(pi / h * (y + 0.5) * cy) for cy in range(nfy)]
        for x in range(w):
            fx = [cos(pi / w * (x + 0.5) * cx) for cx in range(nfx)]
            lum, p, q, a = l_dc, p_dc, q_dc, a_dc
            j = 0
            for cy in range(ly):
                cx, fy2 = (0 if cy else 1), fy[cy] * 2
                while cx * ly < lx * (ly - cy):
                    lum += l_ac[j] * fx[cx] * fy2
                    j += 1
                    cx += 1
            j = 0
            for cy in range(3):
                cx, fy2 = (0 if cy else 1), fy[cy] * 2
                while cx < 3 - cy:
                    f = fx[cx] * fy2
                    p += p_ac[j] * f
                    q += q_ac[j] * f
                    j += 1
                    cx += 1
            if has_alpha:
                j = 0
                for cy in range(5):
                    cx, fy2 = (0 if cy else 1), fy[cy] * 2
                    while cx < 5 - cy:
                        a += a_ac[j] * fx[cx] * fy2
                        j += 1
                        cx += 1
            b = lum - 2 / 3 * p
            r = (3 * lum - b + q) / 2
            g = r - q
            out[i : i + 4] = bytes(int(max(0.0, 255 * min(1.0, v))) for v in (r, g, b, a))
            i += 4
    return w, h, bytes(out)


def _luminance_terms(hash_: bytes, *, at_least: int) -> tuple[int, int]:
    has_alpha = bool(hash_[2] & 0x80)
    landscape = bool(hash_[4] & 0x80)
    short = hash_[3] & 7
    long_ = 5 if has_alpha else 7
    lx, ly = (long_, short) if landscape else (short, long_)
    return max(at_least, lx), max(at_least, ly)
