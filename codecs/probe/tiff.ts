// TIFF: the size tags of IFD0; alpha from its extra samples.

import type { ProbeResult } from "../types.ts";
import { Bytes } from "./bytes.ts";
import { result } from "./result.ts";

interface Ifd0 {
  width?: number;
  height?: number;
}

/** Reads the size tags of IFD0 of a TIFF file. */
function readIfd0(b: Uint8Array): Ifd0 | null {
  const r = new Bytes(b);
  const order = r.ascii(0, 2);
  if (order !== "II" && order !== "MM") return null;
  r.le = order === "II";
  if (r.u16(2) !== 42) return null;
  const ifd = r.u32(4);
  const count = r.u16(ifd);
  if (count < 0) return null;
  const out: Ifd0 = {};
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    const tag = r.u16(e);
    const type = r.u16(e + 2);
    if (tag < 0) break;
    // SHORT (3) sits in the first two bytes of the value field, LONG (4) fills it.
    const value = type === 3 ? r.u16(e + 8) : type === 4 ? r.u32(e + 8) : -1;
    if (value < 0) continue;
    if (tag === 0x0100) out.width = value;
    else if (tag === 0x0101) out.height = value;
  }
  return out;
}

export function probeTiff(r: Bytes): ProbeResult | null {
  const ifd = readIfd0(r.b);
  if (!ifd || ifd.width === undefined || ifd.height === undefined) return null;
  return result("tiff", ifd.width, ifd.height);
}

export /**
 * An extra channel in IFD0: the ExtraSamples tag (0x0152), or more samples per pixel (0x0115)
 * than the photometric interpretation (0x0106) uses (some writers leave ExtraSamples out).
 */
function tiffHasExtraSamples(b: Uint8Array): boolean {
  const r = new Bytes(b);
  r.le = r.ascii(0, 2) === "II";
  const ifd = r.u32(4);
  const count = r.u16(ifd);
  let photometric = -1;
  let samples = 1;
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    const tag = r.u16(e);
    if (tag === 0x0152) return true;
    if (tag === 0x0106) photometric = r.u16(e + 8);
    if (tag === 0x0115) samples = r.u16(e + 8);
  }
  const colour = photometric === 2 || photometric === 6 || photometric === 8 ? 3 : photometric === 5 ? 4 : 1;
  return samples > colour;
}
