// The EXIF orientation of a HEIF file's Exif item, for files whose pixels are not made upright
// by irot/imir properties (when those are present libheif applies them, and the HEIF spec
// says they win over EXIF). Reads the ISO-BMFF boxes: meta → iinf (which item is Exif) →
// iloc (where its bytes are). Anything unexpected: 1 (no rotation).

import { boxes } from "../probe/bmff.ts";
import { Bytes } from "../probe/bytes.ts";

function uint(v: DataView, at: number, size: number): number {
  if (size === 0) return 0;
  if (size === 2) return v.getUint16(at);
  if (size === 4) return v.getUint32(at);
  if (size === 8) return v.getUint32(at) * 2 ** 32 + v.getUint32(at + 4);
  throw new RangeError(`field size ${size}`);
}

export function heifExifOrientation(b: Uint8Array): number {
  try {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const r = new Bytes(b);
    const meta = [...boxes(r, 0, b.length)].find((x) => x.type === "meta");
    if (!meta) return 1;
    const children = [...boxes(r, meta.start + 4, meta.end)];
    const iprp = children.find((x) => x.type === "iprp");
    const ipco = iprp && [...boxes(r, iprp.start, iprp.end)].find((x) => x.type === "ipco");
    if (ipco && [...boxes(r, ipco.start, ipco.end)].some((x) => x.type === "irot" || x.type === "imir")) return 1;

    const iinf = children.find((x) => x.type === "iinf");
    if (!iinf) return 1;
    const iinfVersion = v.getUint8(iinf.start);
    let exifId = -1;
    for (const infe of boxes(r, iinf.start + (iinfVersion === 0 ? 6 : 8), iinf.end)) {
      if (infe.type !== "infe") continue;
      const ver = v.getUint8(infe.start);
      if (ver < 2) continue;
      const id = ver === 2 ? v.getUint16(infe.start + 4) : v.getUint32(infe.start + 4);
      const typeAt = infe.start + (ver === 2 ? 8 : 10);
      if (String.fromCharCode(...b.subarray(typeAt, typeAt + 4)) === "Exif") exifId = id;
    }
    if (exifId < 0) return 1;

    const iloc = children.find((x) => x.type === "iloc");
    if (!iloc) return 1;
    const ver = v.getUint8(iloc.start);
    let p = iloc.start + 4;
    const sizes = v.getUint8(p++);
    const sizes2 = v.getUint8(p++);
    const [offsetSize, lengthSize, baseSize] = [sizes >> 4, sizes & 15, sizes2 >> 4];
    const indexSize = ver === 1 || ver === 2 ? sizes2 & 15 : 0;
    const count = ver < 2 ? v.getUint16(p) : v.getUint32(p);
    p += ver < 2 ? 2 : 4;
    for (let i = 0; i < count && p < iloc.end; i++) {
      const id = ver < 2 ? v.getUint16(p) : v.getUint32(p);
      p += ver < 2 ? 2 : 4;
      let method = 0;
      if (ver === 1 || ver === 2) {
        method = v.getUint16(p) & 15;
        p += 2;
      }
      p += 2; // data_reference_index
      const base = uint(v, p, baseSize);
      p += baseSize;
      const extents = v.getUint16(p);
      p += 2;
      let first: { offset: number; length: number } | null = null;
      for (let e = 0; e < extents; e++) {
        p += indexSize;
        const offset = uint(v, p, offsetSize);
        p += offsetSize;
        const length = uint(v, p, lengthSize);
        p += lengthSize;
        first ??= { offset: base + offset, length };
      }
      if (id !== exifId || !first || method !== 0) continue;
      const item = b.subarray(first.offset, first.offset + first.length);
      const iv = new DataView(item.buffer, item.byteOffset, item.byteLength);
      const tiff = item.subarray(4 + iv.getUint32(0));
      return tiffOrientation(tiff);
    }
    return 1;
  } catch {
    return 1;
  }
}

/** IFD0's Orientation tag of a TIFF structure, 1 when absent or out of range. */
function tiffOrientation(t: Uint8Array): number {
  const v = new DataView(t.buffer, t.byteOffset, t.byteLength);
  const order = String.fromCharCode(t[0]!, t[1]!);
  if (order !== "II" && order !== "MM") return 1;
  const le = order === "II";
  const ifd = v.getUint32(4, le);
  const n = v.getUint16(ifd, le);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    if (v.getUint16(e, le) === 0x0112) {
      const o = v.getUint16(e + 8, le);
      return o >= 1 && o <= 8 ? o : 1;
    }
  }
  return 1;
}
