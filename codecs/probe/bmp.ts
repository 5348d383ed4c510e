// BMP: the size from the DIB header (either the old 12-byte core header or a 40-byte or
// later one); alpha when 32-bit pixels have an alpha mask.

import type { ProbeResult } from "../types.ts";
import type { Bytes } from "./bytes.ts";
import { result } from "./result.ts";

export function probeBmp(r: Bytes): ProbeResult | null {
  r.le = true;
  const dib = r.u32(14);
  if (dib === 12) return result("bmp", r.u16(18), r.u16(20));
  if (dib < 40) return null;
  const w = r.u32(18) | 0;
  const h = r.u32(22) | 0; // negative height = top-down rows
  return result("bmp", Math.abs(w), Math.abs(h));
}

export function bmpHasAlpha(r: Bytes): boolean {
  r.le = true;
  const dib = r.u32(14);
  const bpp = r.u16(28);
  const compression = r.u32(30);
  return bpp === 32 && (compression === 6 || (dib >= 56 && r.u32(14 + 52) !== 0));
}
