// QOI: the size from its 14-byte header; alpha from its channel count.

import type { ProbeResult } from "../types.ts";
import type { Bytes } from "./bytes.ts";
import { result } from "./result.ts";

export function probeQoi(r: Bytes): ProbeResult | null {
  const channels = r.u8(12);
  if (channels !== 3 && channels !== 4) return null;
  return result("qoi", r.u32(4), r.u32(8));
}
