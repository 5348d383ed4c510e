// ICO: a directory of images, each a PNG file or a headerless BMP (DIB). The largest entry
// is the one shown (most pixels; more bits per pixel breaks a tie). PNG entries go to libvips'
// PNG loader as they are; DIB entries through our BMP decoder.

import { decodeDib } from "./bmp.ts";
import { bad, checkSize, type RawImage } from "./raw.ts";

export type IcoEntry = { kind: "png"; bytes: Uint8Array } | { kind: "raw"; image: RawImage };

const isPng = (b: Uint8Array, at: number) =>
  b[at] === 0x89 && b[at + 1] === 0x50 && b[at + 2] === 0x4e && b[at + 3] === 0x47;

export function decodeIco(b: Uint8Array, maxPixels?: number): IcoEntry {
  if (b.length < 6) throw bad("ICO", "truncated header");
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint16(0, true) !== 0 || v.getUint16(2, true) !== 1) throw bad("ICO", "not an icon file");
  const count = v.getUint16(4, true);
  if (count === 0) throw bad("ICO", "no images in the directory");
  if (6 + count * 16 > b.length) throw bad("ICO", "truncated directory");
  let best: { at: number; size: number; area: number; bpp: number } | null = null;
  for (let i = 0; i < count; i++) {
    const e = 6 + i * 16;
    const size = v.getUint32(e + 8, true);
    const at = v.getUint32(e + 12, true);
    if (at < 6 + count * 16 || at + size > b.length || size < 16)
      throw bad("ICO", `entry ${i} points outside the file`);
    let w = b[e]! || 256;
    let h = b[e + 1]! || 256;
    let bpp = v.getUint16(e + 6, true);
    // The directory's sizes cap at 256; the entry's own header is the truth.
    if (isPng(b, at)) {
      if (size < 24) throw bad("ICO", `entry ${i} is a truncated PNG`);
      w = v.getUint32(at + 16);
      h = v.getUint32(at + 20);
      bpp = 32;
    } else if (v.getUint32(at, true) >= 40) {
      w = Math.abs(v.getInt32(at + 4, true));
      h = Math.abs(v.getInt32(at + 8, true)) / 2;
      bpp = v.getUint16(at + 14, true);
    }
    const area = w * h;
    if (!best || area > best.area || (area === best.area && bpp > best.bpp)) best = { at, size, area, bpp };
  }
  const { at, size } = best!;
  const entry = b.subarray(at, at + size);
  if (isPng(entry, 0)) {
    checkSize("ICO", v.getUint32(at + 16), v.getUint32(at + 20), maxPixels);
    return { kind: "png", bytes: entry };
  }
  return { kind: "raw", image: decodeDib(entry, { icon: true, maxPixels }) };
}
