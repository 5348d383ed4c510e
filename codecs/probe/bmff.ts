// ISO-BMFF boxes (AVIF, HEIC, and the JPEG XL container): size, type, payload. One reader for
// the header probe and for the HEIF decoder's EXIF lookup (decoders/heif-exif.ts).

import type { Bytes } from "./bytes.ts";

export interface Box {
  type: string;
  start: number; // first byte of the payload
  end: number; // one past the last byte of the box
}

/**
 * The boxes between `from` and `to`. A box whose header does not fit, or whose size is smaller
 * than its header, ends the list; a box running past `to` is cut at `to`.
 */
export function* boxes(r: Bytes, from: number, to: number): Generator<Box> {
  let pos = from;
  while (pos + 8 <= to) {
    let size = r.u32(pos);
    const type = r.ascii(pos + 4, 4);
    let start = pos + 8;
    if (size === 1) {
      if (pos + 16 > to) return;
      size = r.u32(pos + 8) * 2 ** 32 + r.u32(pos + 12);
      start += 8;
    } else if (size === 0) {
      size = to - pos; // box runs to the end of its container
    }
    if (size < start - pos) return;
    yield { type, start, end: Math.min(pos + size, to) };
    pos += size;
  }
}

export function child(r: Bytes, parent: Box, type: string, skip = 0): Box | undefined {
  for (const b of boxes(r, parent.start + skip, parent.end)) if (b.type === type) return b;
  return undefined;
}
