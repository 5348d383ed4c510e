// JPEG: the size from the first frame header (SOFn); complete when the end marker is near the end.

import type { ProbeResult } from "../types.ts";
import type { Bytes } from "./bytes.ts";
import { result, TRAILER_SLACK } from "./result.ts";

function isSof(m: number): boolean {
  // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range.
  return m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
}

export function probeJpeg(r: Bytes): ProbeResult | null {
  let pos = 2;
  while (pos < r.length) {
    if (r.u8(pos) !== 0xff) return null;
    let m = r.u8(pos + 1);
    while (m === 0xff) m = r.u8(++pos + 1); // fill bytes
    if (m < 0) return null;
    // Markers without a length: TEM, RSTn.
    if (m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      pos += 2;
      continue;
    }
    if (m === 0xd9 || m === 0xda) return null; // EOI or scan before any frame header
    const len = r.u16(pos + 2);
    if (len < 2) return null;
    if (isSof(m)) return result("jpeg", r.u16(pos + 7), r.u16(pos + 5));
    pos += 2 + len;
  }
  return null;
}

export function jpegComplete(tail: Uint8Array): boolean {
  // FF D9 cannot occur inside entropy-coded data (FF is stuffed), so finding it near the
  // end means the main image's scan finished.
  const from = Math.max(0, tail.length - TRAILER_SLACK - 2);
  for (let i = tail.length - 2; i >= from; i--) if (tail[i] === 0xff && tail[i + 1] === 0xd9) return true;
  return false;
}
