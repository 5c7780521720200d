// Fake camera videos for Chromium's --use-file-for-fake-video-capture: YUV4MPEG2 4:2:0 files
// written here from a PNG (a token held up to the camera) or from noise (nothing to find).
// Node only: the PNG decoder covers 8-bit grey/RGB/palette/RGBA, non-interlaced (the example images).
import fs from 'node:fs';
import zlib from 'node:zlib';

export function decodePng(file) {
  const buf = fs.readFileSync(file);
  let pos = 8, ihdr = null, palette = null, trns = null;
  const idat = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos), type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') ihdr = { w: data.readUInt32BE(0), h: data.readUInt32BE(4), depth: data[8], color: data[9], interlace: data[12] };
    else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const { w, h, depth, color, interlace } = ihdr;
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[color];
  if (depth !== 8 || interlace || !channels) throw new Error(`${file}: unsupported PNG (depth ${depth}, color ${color}, interlace ${interlace})`);
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = w * channels, px = Buffer.alloc(stride * h);
  for (let y = 0; y < h; y++) {  // undo the per-row filters
    const f = raw[y * (stride + 1)], src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = px.subarray(y * stride, (y + 1) * stride), up = y ? px.subarray((y - 1) * stride, y * stride) : null;
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? out[i - channels] : 0, b = up ? up[i] : 0, c = up && i >= channels ? up[i - channels] : 0;
      let v = src[i];
      if (f === 1) v += a; else if (f === 2) v += b; else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) { const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c); v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c; }
      out[i] = v & 255;
    }
  }
  const rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    let r, g, b, al = 255;
    if (color === 3) { const k = px[i]; r = palette[k * 3]; g = palette[k * 3 + 1]; b = palette[k * 3 + 2]; if (trns && k < trns.length) al = trns[k]; }
    else if (color === 0 || color === 4) { r = g = b = px[i * channels]; if (color === 4) al = px[i * 2 + 1]; }
    else { r = px[i * channels]; g = px[i * channels + 1]; b = px[i * channels + 2]; if (color === 6) al = px[i * 4 + 3]; }
    rgba.set([r, g, b, al], i * 4);
  }
  return { w, h, rgba };
}

// Deterministic noise, so a failing run can be repeated exactly.
function rng(seed) { return () => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed / 4294967296; }; }

/** Write a y4m file of `frames` W x H frames; paint(i, rgb) fills a Float32Array of RGB (0..255). */
function writeY4m(file, { W = 640, H = 480, frames = 40 }, paint) {
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, `YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`);
  const rgb = new Float32Array(W * H * 3);
  const Y = Buffer.alloc(W * H), U = Buffer.alloc((W / 2) * (H / 2)), V = Buffer.alloc((W / 2) * (H / 2));
  const clamp = (v) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
  for (let i = 0; i < frames; i++) {
    paint(i, rgb);
    for (let p = 0; p < W * H; p++) Y[p] = clamp(0.299 * rgb[p * 3] + 0.587 * rgb[p * 3 + 1] + 0.114 * rgb[p * 3 + 2]);
    for (let y = 0; y < H / 2; y++) for (let x = 0; x < W / 2; x++) {  // full-range BT.601 chroma, 2x2 averaged (C420jpeg)
      let r = 0, g = 0, b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) { const p = ((2 * y + dy) * W + 2 * x + dx) * 3; r += rgb[p]; g += rgb[p + 1]; b += rgb[p + 2]; }
      r /= 4; g /= 4; b /= 4;
      U[y * (W / 2) + x] = clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
      V[y * (W / 2) + x] = clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
    }
    fs.writeSync(fd, 'FRAME\n'); fs.writeSync(fd, Y); fs.writeSync(fd, U); fs.writeSync(fd, V);
  }
  fs.closeSync(fd);
}

/** A token on a grey desk at ~55% of the frame height, drifting a few pixels a frame, softened
 *  (bilinear scaling + a 3x3 blur) and with sensor noise. */
export function tokenVideo(png, file, { W = 640, H = 480, frames = 40, seed = 7 } = {}) {
  const img = decodePng(png);
  const S = Math.round(H * 0.55);
  // the token scaled to S x S (bilinear), then blurred once
  const tok = new Float32Array(S * S * 3);
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
    const fx = Math.max(0, (x + 0.5) * img.w / S - 0.5), fy = Math.max(0, (y + 0.5) * img.h / S - 0.5);
    const x0 = Math.min(img.w - 1, Math.floor(fx)), y0 = Math.min(img.h - 1, Math.floor(fy));
    const x1 = Math.min(img.w - 1, x0 + 1), y1 = Math.min(img.h - 1, y0 + 1), ax = fx - x0, ay = fy - y0;
    for (let c = 0; c < 3; c++) {
      const at = (xx, yy) => { const q = (yy * img.w + xx) * 4; const al = img.rgba[q + 3] / 255; return img.rgba[q + c] * al + 130 * (1 - al); };
      tok[(y * S + x) * 3 + c] = (at(x0, y0) * (1 - ax) + at(x1, y0) * ax) * (1 - ay) + (at(x0, y1) * (1 - ax) + at(x1, y1) * ax) * ay;
    }
  }
  const soft = new Float32Array(tok.length);
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) for (let c = 0; c < 3; c++) {
    let sum = 0, n = 0;
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
      const yy = y + dy, xx = x + dx;
      if (yy >= 0 && yy < S && xx >= 0 && xx < S) { sum += tok[(yy * S + xx) * 3 + c]; n++; }
    }
    soft[(y * S + x) * 3 + c] = sum / n;
  }
  const rand = rng(seed);
  writeY4m(file, { W, H, frames }, (i, rgb) => {
    // drift: a slow loop of ~3 px a frame, so the first and last frames meet when Chromium loops
    const t = (i / frames) * 2 * Math.PI;
    const ox = Math.round((W - S) / 2 + 18 * Math.sin(t)), oy = Math.round((H - S) / 2 + 10 * Math.sin(2 * t));
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const p = (y * W + x) * 3, n = (rand() - 0.5) * 10;
      const inside = x >= ox && x < ox + S && y >= oy && y < oy + S;
      if (inside) { const q = ((y - oy) * S + (x - ox)) * 3; rgb[p] = soft[q] + n; rgb[p + 1] = soft[q + 1] + n; rgb[p + 2] = soft[q + 2] + n; }
      else { const desk = 118 + 14 * (y / H) + n; rgb[p] = desk + 4; rgb[p + 1] = desk + 2; rgb[p + 2] = desk; }  // warm grey, lit from below
    }
  });
  return { size: S };
}

/** Nothing to identify: a moving colour gradient with noise. */
export function noiseVideo(file, { W = 640, H = 480, frames = 30, seed = 11 } = {}) {
  const rand = rng(seed);
  writeY4m(file, { W, H, frames }, (i, rgb) => {
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const p = (y * W + x) * 3, n = (rand() - 0.5) * 60;
      rgb[p] = 255 * (x / W) + n; rgb[p + 1] = 255 * (y / H) * 0.8 + n; rgb[p + 2] = 128 + 100 * Math.sin((x + y + i * 8) / 40) + n;
    }
  });
}
