// Radiance HDR: the size from the resolution line after the header.

import type { ProbeResult } from "../types.ts";
import { result } from "./result.ts";

export /** Radiance RGBE: "#?RADIANCE" (or "#?RGBE"), header lines, a blank line, then "-Y h +X w". */
function probeHdr(head: Uint8Array): ProbeResult | null {
  const text = new TextDecoder("latin1").decode(head.subarray(0, 4096));
  if (!/^#\?(RADIANCE|RGBE)\n/.test(text)) return null;
  const m = /\n\n([-+])Y +(\d{1,9}) +([-+])X +(\d{1,9})\n/.exec(text);
  if (!m) return null;
  return result("hdr", Number(m[4]), Number(m[2]));
}
