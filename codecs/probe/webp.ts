// WebP: the size from the first chunk (lossy VP8, lossless VP8L or extended VP8X); frames
// (ANMF chunks) and alpha from the VP8X flags.

import type { ProbeResult } from "../types.ts";
import type { Bytes } from "./bytes.ts";
import { type Layout, result } from "./result.ts";

export function probeWebp(r: Bytes): ProbeResult | null {
  r.le = true;
  const chunk = r.ascii(12, 4);
  if (chunk === "VP8 ") {
    // Frame tag (3 bytes), start code 9D 01 2A, then 14-bit width and height.
    if (r.u8(23) !== 0x9d || r.u8(24) !== 0x01 || r.u8(25) !== 0x2a) return null;
    return result("webp", r.u16(26) & 0x3fff, r.u16(28) & 0x3fff);
  }
  if (chunk === "VP8L") {
    if (r.u8(20) !== 0x2f) return null;
    const bits = r.u32(21);
    if (bits < 0) return null;
    return result("webp", 1 + (bits & 0x3fff), 1 + ((bits >>> 14) & 0x3fff));
  }
  if (chunk === "VP8X") {
    const w = r.u24le(24);
    const h = r.u24le(27);
    if (w < 0 || h < 0) return null;
    return result("webp", w + 1, h + 1);
  }
  return null;
}

export function webpLayout(r: Bytes): Layout {
  r.le = true;
  const first = r.ascii(12, 4);
  if (first === "VP8L") return { frames: 1, hasAlpha: ((r.u32(21) >>> 28) & 1) === 1 };
  if (first !== "VP8X") return { frames: 1, hasAlpha: false };
  const flags = r.u8(20);
  let frames = 0;
  for (let pos = 12; pos + 8 <= r.length; ) {
    const size = r.u32(pos + 4);
    if (size < 0) break;
    if (r.ascii(pos, 4) === "ANMF") frames++;
    pos += 8 + size + (size & 1);
  }
  return { frames: flags & 0x02 ? Math.max(1, frames) : 1, hasAlpha: (flags & 0x10) !== 0 };
}
