// ICO: the size of its largest entry (a PNG entry's from its own IHDR).

import type { ProbeResult } from "../types.ts";
import { Bytes } from "./bytes.ts";
import { result } from "./result.ts";

export function probeIco(r: Bytes): ProbeResult | null {
  r.le = true;
  const count = r.u16(4);
  if (count <= 0) return null;
  let best: { w: number; h: number } | null = null;
  for (let i = 0; i < count; i++) {
    const e = 6 + i * 16;
    if (e + 16 > r.length) break;
    let w = r.u8(e) || 256;
    let h = r.u8(e + 1) || 256;
    // Entries stored as PNG carry their real size (which may exceed 256) in the IHDR.
    const at = r.u32(e + 12);
    const png = new Bytes(r.b.subarray(at)); // big-endian, as PNG is
    if (at > 0 && png.u32(0) === 0x89504e47) {
      if (png.ascii(12, 4) === "IHDR") {
        w = png.u32(16);
        h = png.u32(20);
      }
    }
    if (!best || w * h > best.w * best.h) best = { w, h };
  }
  return best ? result("ico", best.w, best.h) : null;
}
