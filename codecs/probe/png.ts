// PNG: the size from IHDR; frames (APNG's acTL) and alpha from the chunks before the pixels;
// complete when IEND is near the end.

import type { ProbeResult } from "../types.ts";
import type { Bytes } from "./bytes.ts";
import { type Layout, result, TRAILER_SLACK } from "./result.ts";

export function probePng(r: Bytes): ProbeResult | null {
  if (r.ascii(12, 4) !== "IHDR") return null;
  return result("png", r.u32(16), r.u32(20));
}

export function pngLayout(r: Bytes): Layout {
  let frames = 1;
  let alpha = r.u8(25) === 4 || r.u8(25) === 6;
  for (let pos = 8; pos + 8 <= r.length; ) {
    const len = r.u32(pos);
    const type = r.ascii(pos + 4, 4);
    if (len < 0 || type === "IDAT" || type === "IEND") break;
    if (type === "tRNS") alpha = true;
    if (type === "acTL") frames = Math.max(1, r.u32(pos + 8));
    pos += 12 + len;
  }
  return { frames, hasAlpha: alpha };
}

export function pngComplete(tail: Uint8Array): boolean {
  const from = Math.max(0, tail.length - TRAILER_SLACK - 12);
  for (let i = tail.length - 12; i >= from; i--) {
    // Length 0, then "IEND".
    if (
      tail[i] === 0 &&
      tail[i + 1] === 0 &&
      tail[i + 2] === 0 &&
      tail[i + 3] === 0 &&
      tail[i + 4] === 0x49 &&
      tail[i + 5] === 0x45 &&
      tail[i + 6] === 0x4e &&
      tail[i + 7] === 0x44
    )
      return true;
  }
  return false;
}
