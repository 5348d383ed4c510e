// TGA: no signature, so the header is checked field by field; alpha from the attribute bits.

import type { ProbeResult } from "../types.ts";
import type { Bytes } from "./bytes.ts";
import { result } from "./result.ts";

export /**
 * TGA has no signature; its 18-byte header is checked field by field (image type, colour map,
 * pixel depth, reserved descriptor bits), which plain text or another format's bytes fail.
 */
function probeTga(r: Bytes): ProbeResult | null {
  r.le = true;
  const mapType = r.u8(1);
  const type = r.u8(2);
  const depth = r.u8(16);
  const descriptor = r.u8(17);
  if (r.length < 18 || (mapType !== 0 && mapType !== 1)) return null;
  if (![1, 2, 3, 9, 10, 11].includes(type)) return null;
  if ((type === 1 || type === 9) !== (mapType === 1)) return null;
  if (![8, 15, 16, 24, 32].includes(depth) || descriptor & 0xc0) return null;
  if (mapType === 1 && ![15, 16, 24, 32].includes(r.u8(7))) return null;
  return result("tga", r.u16(12), r.u16(14));
}
