// AVIF and HEIC: brands tell the format (or the primary item's type, for the generic mif1), the
// primary item's ispe property the size; an auxiliary alpha item the transparency.

import type { InputFormat, ProbeResult } from "../types.ts";
import { type Box, boxes, child } from "./bmff.ts";
import type { Bytes } from "./bytes.ts";
import { result } from "./result.ts";

const AVIF_BRANDS = new Set(["avif", "avis"]);

const HEIC_BRANDS = new Set(["heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs"]);

export function probeHeif(r: Bytes): ProbeResult | null {
  const ftyp = r.u32(0);
  if (ftyp < 16) return null;
  const brands: string[] = [r.ascii(8, 4)];
  for (let o = 16; o + 4 <= ftyp && o + 4 <= r.length; o += 4) brands.push(r.ascii(o, 4));
  let format: InputFormat | null = null;
  if (brands.some((b) => AVIF_BRANDS.has(b))) format = "avif";
  else if (brands.some((b) => HEIC_BRANDS.has(b))) format = "heic";
  else if (!brands.includes("mif1") && !brands.includes("msf1")) return null;

  const meta = [...boxes(r, ftyp, r.length)].find((b) => b.type === "meta");
  if (!meta) return null;
  const metaBody: Box = { ...meta, start: meta.start + 4 }; // full box: version + flags

  // Primary item: pitm v0 has a 16-bit id, v1 a 32-bit id.
  let primary = -1;
  const pitm = child(r, metaBody, "pitm");
  if (pitm) primary = r.u8(pitm.start) === 0 ? r.u16(pitm.start + 4) : r.u32(pitm.start + 4);

  // Item types, to tell AVIF from HEIC when only the generic mif1 brand is present.
  const iinf = child(r, metaBody, "iinf");
  if (iinf && format === null) {
    const v = r.u8(iinf.start);
    for (const infe of boxes(r, iinf.start + (v === 0 ? 6 : 8), iinf.end)) {
      if (infe.type !== "infe") continue;
      const iv = r.u8(infe.start);
      if (iv < 2) continue;
      const id = iv === 2 ? r.u16(infe.start + 4) : r.u32(infe.start + 4);
      const typeAt = infe.start + (iv === 2 ? 8 : 10);
      if (primary < 0 || id === primary) {
        const t = r.ascii(typeAt, 4);
        format = t === "av01" ? "avif" : t === "hvc1" ? "heic" : format;
      }
    }
  }
  if (format === null) format = "heic";

  const iprp = child(r, metaBody, "iprp");
  if (!iprp) return null;
  const ipco = child(r, iprp, "ipco");
  if (!ipco) return null;
  const props = [...boxes(r, ipco.start, ipco.end)];

  // Property indices (1-based) associated with each item.
  const assoc = new Map<number, number[]>();
  for (const ipma of boxes(r, iprp.start, iprp.end)) {
    if (ipma.type !== "ipma") continue;
    const version = r.u8(ipma.start);
    const flags = r.u8(ipma.start + 3);
    const count = r.u32(ipma.start + 4);
    let p = ipma.start + 8;
    for (let i = 0; i < count && p < ipma.end; i++) {
      const id = version < 1 ? r.u16(p) : r.u32(p);
      p += version < 1 ? 2 : 4;
      const n = r.u8(p++);
      const list: number[] = [];
      for (let j = 0; j < n; j++) {
        list.push(flags & 1 ? r.u16(p) & 0x7fff : r.u8(p) & 0x7f);
        p += flags & 1 ? 2 : 1;
      }
      assoc.set(id, list);
    }
  }

  const list = assoc.get(primary) ?? (primary < 0 ? [...assoc.values()][0] : undefined);
  const indices = list ?? props.map((_, i) => i + 1);
  for (const idx of indices) {
    const p = props[idx - 1];
    if (p?.type === "ispe") return result(format, r.u32(p.start + 4), r.u32(p.start + 8));
  }
  return null;
}

/** An alpha plane is an auxiliary item whose auxC names the alpha URN (AV1 or HEVC form). */
export function heifHasAlpha(bytes: Uint8Array): boolean {
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 64 * 1024));
  return head.includes("auxiliary:alpha") || head.includes("urn:mpeg:hevc:2015:auxid:1");
}
