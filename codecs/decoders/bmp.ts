// BMP files and the DIB images inside ICO files. Our own decoder: the npm BMP decoders read
// neither top-down rows nor BITFIELDS masks, and take the unused fourth byte of a 32-bit
// BI_RGB file for alpha (which makes most such files fully transparent).
//
// Covered: 1/4/8-bit palettes, 16-bit (5-5-5 or masks), 24-bit, 32-bit (BI_RGB, BITFIELDS,
// ALPHABITFIELDS), bottom-up and top-down rows, ICO's doubled height and AND mask.
// Not covered (a clear 4xx): RLE4/RLE8 and embedded JPEG/PNG compression.

import { bad, checkSize, type RawImage } from "./raw.ts";

const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;

/** A BMP file ("BM" + 14-byte file header + DIB). */
export function decodeBmp(b: Uint8Array, maxPixels?: number): RawImage {
  if (b.length < 26 || b[0] !== 0x42 || b[1] !== 0x4d) throw bad("BMP", "not a BMP file");
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const pixelOffset = v.getUint32(10, true);
  return decodeDib(b.subarray(14), { pixelOffset: pixelOffset - 14, icon: false, maxPixels });
}

export interface DibOptions {
  /** Where the pixels start, from the start of the DIB header; undefined: right after the palette. */
  pixelOffset?: number;
  /** An ICO entry: height counts the XOR and the AND mask, and the AND mask gives transparency. */
  icon: boolean;
  maxPixels?: number;
}

export function decodeDib(b: Uint8Array, o: DibOptions): RawImage {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const need = (n: number, what: string) => {
    if (n > b.length) throw bad("BMP", `truncated ${what}`);
  };
  need(4, "header");
  const headerSize = v.getUint32(0, true);
  if (headerSize !== 12 && headerSize < 40) throw bad("BMP", `unknown header size ${headerSize}`);
  need(headerSize, "header");
  let width: number;
  let height: number;
  let bpp: number;
  let compression = BI_RGB;
  let colours = 0;
  if (headerSize === 12) {
    width = v.getUint16(4, true);
    height = v.getInt16(6, true);
    bpp = v.getUint16(10, true);
  } else {
    width = v.getInt32(4, true);
    height = v.getInt32(8, true);
    bpp = v.getUint16(14, true);
    compression = v.getUint32(16, true);
    colours = v.getUint32(32, true);
  }
  const topDown = height < 0;
  height = Math.abs(height);
  if (o.icon) height = Math.floor(height / 2);
  checkSize("BMP", width, height, o.maxPixels);
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) throw bad("BMP", `${bpp} bits per pixel is not supported`);
  if (compression !== BI_RGB && compression !== BI_BITFIELDS && compression !== BI_ALPHABITFIELDS) {
    throw bad("BMP", `compression ${compression} (RLE or embedded JPEG/PNG) is not supported`);
  }

  // Channel masks: in the header from V2 (52 bytes) on, else right after a 40-byte header.
  let masks: number[] | null = null;
  let pos = headerSize;
  if (compression !== BI_RGB) {
    const n = compression === BI_ALPHABITFIELDS ? 4 : 3;
    if (headerSize >= 52)
      masks = [0, 1, 2, 3].slice(0, headerSize >= 56 ? 4 : 3).map((i) => v.getUint32(40 + i * 4, true));
    else {
      need(pos + n * 4, "masks");
      masks = [...Array(n)].map((_, i) => v.getUint32(pos + i * 4, true));
      pos += n * 4;
    }
  } else if (bpp === 16) masks = [0x7c00, 0x03e0, 0x001f];
  else if (bpp === 32 && headerSize >= 56) {
    // V3+ headers may name an alpha mask even for BI_RGB.
    const a = v.getUint32(52, true);
    if (a) masks = [0x00ff0000, 0x0000ff00, 0x000000ff, a];
  }

  let palette: Uint8Array | null = null;
  if (bpp <= 8) {
    const n = colours || 1 << bpp;
    if (n > 1 << bpp) throw bad("BMP", `palette of ${n} colours for ${bpp}-bit pixels`);
    const entry = headerSize === 12 ? 3 : 4;
    need(pos + n * entry, "palette");
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < n; i++) {
      palette[i * 3] = b[pos + i * entry + 2]!;
      palette[i * 3 + 1] = b[pos + i * entry + 1]!;
      palette[i * 3 + 2] = b[pos + i * entry]!;
    }
    pos += n * entry;
  }
  const start = o.pixelOffset !== undefined && o.pixelOffset >= pos ? o.pixelOffset : pos;
  const stride = Math.ceil((width * bpp) / 32) * 4;
  need(start + stride * height, "pixel data");
  const maskStride = Math.ceil(width / 32) * 4;
  const andAt = start + stride * height;
  const hasAndMask = o.icon && andAt + maskStride * height <= b.length;

  const out = new Uint8Array(width * height * 4);
  const fields = masks?.map(field);
  let alphaSeen = false;
  for (let y = 0; y < height; y++) {
    const row = start + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const d = (y * width + x) * 4;
      if (palette) {
        const i =
          bpp === 8
            ? b[row + x]!
            : bpp === 4
              ? (b[row + (x >> 1)]! >> (x & 1 ? 0 : 4)) & 15
              : (b[row + (x >> 3)]! >> (7 - (x & 7))) & 1;
        out[d] = palette[i * 3]!;
        out[d + 1] = palette[i * 3 + 1]!;
        out[d + 2] = palette[i * 3 + 2]!;
        out[d + 3] = 255;
      } else if (fields) {
        const p =
          bpp === 16
            ? v.getUint16(row + x * 2, true)
            : bpp === 32
              ? v.getUint32(row + x * 4, true)
              : b[row + x * 3]! | (b[row + x * 3 + 1]! << 8) | (b[row + x * 3 + 2]! << 16);
        out[d] = fields[0]!(p);
        out[d + 1] = fields[1]!(p);
        out[d + 2] = fields[2]!(p);
        out[d + 3] = fields[3] ? fields[3](p) : 255;
        if (fields[3] && out[d + 3] !== 0) alphaSeen = true;
      } else {
        const at = row + x * (bpp >> 3);
        out[d] = b[at + 2]!;
        out[d + 1] = b[at + 1]!;
        out[d + 2] = b[at]!;
        // 32-bit BI_RGB: the fourth byte is alpha in icons, unused in files.
        out[d + 3] = bpp === 32 && o.icon ? b[at + 3]! : 255;
        if (bpp === 32 && o.icon && out[d + 3] !== 0) alphaSeen = true;
      }
    }
  }
  const alphaUsed = (bpp === 32 && o.icon) || fields?.[3] !== undefined;
  // An alpha channel that is zero everywhere was never filled in: the image is opaque
  // (or, in an icon, shaped by its AND mask).
  if (alphaUsed && !alphaSeen) for (let i = 3; i < out.length; i += 4) out[i] = 255;
  if (hasAndMask && (bpp < 32 || !alphaSeen)) {
    for (let y = 0; y < height; y++) {
      const row = andAt + (topDown ? y : height - 1 - y) * maskStride;
      for (let x = 0; x < width; x++) if ((b[row + (x >> 3)]! >> (7 - (x & 7))) & 1) out[(y * width + x) * 4 + 3] = 0;
    }
  }
  return { width, height, bands: 4, data: out };
}

/** Extracts a masked channel scaled to 0–255. */
function field(mask: number): ((p: number) => number) | undefined {
  if (!mask) return undefined;
  let shift = 0;
  while (!((mask >>> shift) & 1)) shift++;
  let bits = 0;
  while ((mask >>> (shift + bits)) & 1 && bits < 32) bits++;
  const max = 2 ** bits - 1;
  return (p) => Math.round((((p & mask) >>> shift) * 255) / max);
}
