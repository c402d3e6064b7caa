// ThumbHash decoding (Evan Wallace's reference algorithm, as media_app/thumbhash.py): a hash of
// about 25 bytes to a 32-pixel RGBA preview. Exposes window.backroomThumbHash.
(function () {
  "use strict";
  const { PI, min, max, cos, round } = Math;

  function terms(hash, atLeast) {
    const hasAlpha = hash[2] & 0x80, landscape = hash[4] & 0x80, short = hash[3] & 7;
    const long = hasAlpha ? 5 : 7;
    return [max(atLeast, landscape ? long : short), max(atLeast, landscape ? short : long)];
  }

  function aspectRatio(hash) {
    const [lx, ly] = terms(hash, 1);
    return lx / ly;
  }

  function toRGBA(hash) {
    const header24 = hash[0] | (hash[1] << 8) | (hash[2] << 16);
    const header16 = hash[3] | (hash[4] << 8);
    const lDc = (header24 & 63) / 63;
    const pDc = ((header24 >> 6) & 63) / 31.5 - 1;
    const qDc = ((header24 >> 12) & 63) / 31.5 - 1;
    const lScale = ((header24 >> 18) & 31) / 31;
    const hasAlpha = header24 >> 23;
    const pScale = ((header16 >> 3) & 63) / 63;
    const qScale = ((header16 >> 9) & 63) / 63;
    const [lx, ly] = terms(hash, 3);
    const aDc = hasAlpha ? (hash[5] & 15) / 15 : 1;
    const aScale = hasAlpha ? (hash[5] >> 4) / 15 : 0;
    const start = hasAlpha ? 6 : 5;
    let index = 0;
    function factors(nx, ny, scale) {
      const ac = [];
      for (let cy = 0; cy < ny; cy++)
        for (let cx = cy ? 0 : 1; cx * ny < nx * (ny - cy); cx++, index++)
          ac.push((((hash[start + (index >> 1)] >> ((index & 1) << 2)) & 15) / 7.5 - 1) * scale);
      return ac;
    }
    const lAc = factors(lx, ly, lScale);
    const pAc = factors(3, 3, pScale * 1.25);
    const qAc = factors(3, 3, qScale * 1.25);
    const aAc = hasAlpha ? factors(5, 5, aScale) : [];
    const ratio = aspectRatio(hash);
    const w = round(ratio > 1 ? 32 : 32 * ratio), h = round(ratio > 1 ? 32 / ratio : 32);
    const rgba = new Uint8ClampedArray(w * h * 4), fx = [], fy = [];
    for (let y = 0, i = 0; y < h; y++) {
      for (let x = 0; x < w; x++, i += 4) {
        let l = lDc, p = pDc, q = qDc, a = aDc;
        for (let cx = 0, n = max(lx, hasAlpha ? 5 : 3); cx < n; cx++) fx[cx] = cos((PI / w) * (x + 0.5) * cx);
        for (let cy = 0, n = max(ly, hasAlpha ? 5 : 3); cy < n; cy++) fy[cy] = cos((PI / h) * (y + 0.5) * cy);
        for (let cy = 0, j = 0; cy < ly; cy++)
          for (let cx = cy ? 0 : 1, fy2 = fy[cy] * 2; cx * ly < lx * (ly - cy); cx++, j++) l += lAc[j] * fx[cx] * fy2;
        for (let cy = 0, j = 0; cy < 3; cy++)
          for (let cx = cy ? 0 : 1, fy2 = fy[cy] * 2; cx < 3 - cy; cx++, j++) {
            const f = fx[cx] * fy2;
            p += pAc[j] * f;
            q += qAc[j] * f;
          }
        if (hasAlpha)
          for (let cy = 0, j = 0; cy < 5; cy++)
            for (let cx = cy ? 0 : 1, fy2 = fy[cy] * 2; cx < 5 - cy; cx++, j++) a += aAc[j] * fx[cx] * fy2;
        const b = l - (2 / 3) * p, r = (3 * l - b + q) / 2, g = r - q;
        rgba[i] = max(0, 255 * min(1, r));
        rgba[i + 1] = max(0, 255 * min(1, g));
        rgba[i + 2] = max(0, 255 * min(1, b));
        rgba[i + 3] = max(0, 255 * min(1, a));
      }
    }
    return { w, h, rgba };
  }

  function fromBase64(text) {
    const raw = atob(text);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  // A canvas showing the preview; CSS stretches it over the picture's box.
  function canvas(base64) {
    const { w, h, rgba } = toRGBA(fromBase64(base64));
    const c = document.createElement("canvas");
    c.width = w;
    c.height = h;
    c.getContext("2d").putImageData(new ImageData(rgba, w, h), 0, 0);
    return c;
  }

  const api = { toRGBA, aspectRatio, fromBase64, canvas };
  if (typeof window !== "undefined") window.backroomThumbHash = api;
  if (typeof module !== "undefined") module.exports = api;
})();
