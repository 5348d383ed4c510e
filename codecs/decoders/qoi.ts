// QOI ("Quite OK Image", qoiformat.org): a one-page spec, decoded here rather than through a
// package (the npm ones are unmaintained single releases).

import { bad, checkSize, type RawImage } from "./raw.ts";

const END = [0, 0, 0, 0, 0, 0, 0, 1];

export function decodeQoi(b: Uint8Array, maxPixels?: number): RawImage {
  if (b.length < 14 + 8 || b[0] !== 0x71 || b[1] !== 0x6f || b[2] !== 0x69 || b[3] !== 0x66)
    throw bad("QOI", "not a QOI file");
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const width = v.getUint32(4);
  const height = v.getUint32(8);
  const channels = b[12]!;
  if (channels !== 3 && channels !== 4) throw bad("QOI", `${channels} channels`);
  checkSize("QOI", width, height, maxPixels);
  const out = new Uint8Array(width * height * channels);
  const index = new Uint8Array(64 * 4);
  let r = 0;
  let g = 0;
  let bl = 0;
  let a = 255;
  let p = 14;
  const last = b.length - END.length;
  let run = 0;
  for (let o = 0; o < out.length; o += channels) {
    if (run > 0) run--;
    else {
      if (p >= last) throw bad("QOI", "truncated pixel data");
      const op = b[p++]!;
      if (op === 0xfe) {
        r = b[p++]!;
        g = b[p++]!;
        bl = b[p++]!;
      } else if (op === 0xff) {
        r = b[p++]!;
        g = b[p++]!;
        bl = b[p++]!;
        a = b[p++]!;
      } else if (op >> 6 === 0) {
        const i = op * 4;
        r = index[i]!;
        g = index[i + 1]!;
        bl = index[i + 2]!;
        a = index[i + 3]!;
      } else if (op >> 6 === 1) {
        r = (r + ((op >> 4) & 3) - 2) & 255;
        g = (g + ((op >> 2) & 3) - 2) & 255;
        bl = (bl + (op & 3) - 2) & 255;
      } else if (op >> 6 === 2) {
        const dg = (op & 63) - 32;
        const next = b[p++]!;
        r = (r + dg - 8 + ((next >> 4) & 15)) & 255;
        g = (g + dg) & 255;
        bl = (bl + dg - 8 + (next & 15)) & 255;
      } else run = op & 63;
      const i = ((r * 3 + g * 5 + bl * 7 + a * 11) % 64) * 4;
      index[i] = r;
      index[i + 1] = g;
      index[i + 2] = bl;
      index[i + 3] = a;
    }
    out[o] = r;
    out[o + 1] = g;
    out[o + 2] = bl;
    if (channels === 4) out[o + 3] = a;
  }
  if (p > last) throw bad("QOI", "truncated pixel data");
  return { width, height, bands: channels, data: out };
}
