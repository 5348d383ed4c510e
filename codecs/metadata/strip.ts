import { exifForAll, removeGps, xmpHasGps } from "./exif.ts";

// Stripping metadata from an original without touching its pixels: the containers (JPEG
// segments, PNG chunks, WebP RIFF chunks) are rewritten, the compressed image data is copied
// as it is. `gps` removes the EXIF GPS IFD (and an XMP packet that records a position);
// `all` keeps of the EXIF only the orientation and drops XMP, IPTC and comments. Colour
// profiles stay (they are colour, not privacy). Other formats are stored as they came.

export type StripMode = "none" | "gps" | "all";
/** What was removed: `gps`, `exif` (other EXIF tags), `xmp`, `iptc`, `comment`. */
export type Stripped = "gps" | "exif" | "xmp" | "iptc" | "comment";

export const STRIP_MODES: readonly StripMode[] = ["none", "gps", "all"];
/** The formats whose metadata is stripped. */
export const STRIPPED_FORMATS = ["jpeg", "png", "webp"] as const;

export interface StripResult {
  /** The same array when nothing was removed. */
  bytes: Uint8Array;
  removed: Stripped[];
}

export function stripMetadata(bytes: Uint8Array, format: string, mode: StripMode): StripResult {
  if (mode === "none") return { bytes, removed: [] };
  const removed = new Set<Stripped>();
  let out: Uint8Array | null;
  try {
    out =
      format === "jpeg"
        ? jpeg(bytes, mode, removed)
        : format === "png"
          ? png(bytes, mode, removed)
          : format === "webp"
            ? webp(bytes, mode, removed)
            : null;
  } catch {
    // A container this reader cannot follow (the decoder was more lenient): kept as it came.
    out = null;
  }
  if (!out || removed.size === 0) return { bytes, removed: [] };
  return { bytes: out, removed: [...removed].sort() };
}

const ascii = (b: Uint8Array, at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n));
const startsWith = (b: Uint8Array, s: string) => b.length >= s.length && ascii(b, 0, s.length) === s;

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * What becomes of one EXIF block (a TIFF structure): null drops it, else its new bytes (a
 * copy: the input is never changed). `removed` learns what went.
 */
function exifBlock(tiff: Uint8Array, mode: StripMode, removed: Set<Stripped>): Uint8Array | null {
  if (mode === "gps") {
    const copy = tiff.slice();
    if (removeGps(copy)) removed.add("gps");
    return copy;
  }
  const r = exifForAll(tiff);
  for (const k of r.removed) removed.add(k as Stripped);
  return r.replacement;
}

/** An XMP packet: kept (true) or dropped. */
function keepXmp(xmp: Uint8Array, mode: StripMode, removed: Set<Stripped>): boolean {
  if (mode === "all") removed.add("xmp");
  else if (xmpHasGps(xmp)) removed.add("gps");
  else return true;
  return false;
}

// ------------------------------------------------------------------------------------- JPEG

const EXIF_ID = "Exif\0\0";
const XMP_IDS = ["http://ns.adobe.com/xap/1.0/\0", "http://ns.adobe.com/xmp/extension/\0"];

function jpeg(b: Uint8Array, mode: StripMode, removed: Set<Stripped>): Uint8Array | null {
  if (b[0] !== 0xff || b[1] !== 0xd8) return null;
  const parts: Uint8Array[] = [b.subarray(0, 2)];
  let pos = 2;
  while (pos + 4 <= b.length) {
    if (b[pos] !== 0xff) return null;
    const marker = b[pos + 1];
    // Fill bytes, and markers without a length.
    if (marker === 0xff) {
      parts.push(b.subarray(pos, pos + 1));
      pos++;
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      parts.push(b.subarray(pos, pos + 2));
      pos += 2;
      continue;
    }
    // Start of scan (or the end): the entropy-coded data and all after it are copied.
    if (marker === 0xda || marker === 0xd9) break;
    const len = (b[pos + 2] << 8) | b[pos + 3];
    const end = pos + 2 + len;
    if (len < 2 || end > b.length) return null;
    const seg = b.subarray(pos, end);
    const body = b.subarray(pos + 4, end);
    const keep = jpegSegment(marker, body, mode, removed);
    if (keep === true) parts.push(seg);
    else if (keep) {
      const head = new Uint8Array([0xff, marker, ((keep.length + 2) >> 8) & 0xff, (keep.length + 2) & 0xff]);
      parts.push(head, keep);
    }
    pos = end;
  }
  parts.push(b.subarray(pos));
  return concat(parts);
}

/**
 * Whether these first bytes of a JPEG reach its start of scan: then every segment stripping
 * looks at is in them, and stripping them tells whether the whole file has anything to strip.
 */
export function jpegHeadComplete(head: Uint8Array): boolean {
  if (head[0] !== 0xff || head[1] !== 0xd8) return false;
  let pos = 2;
  while (pos + 4 <= head.length) {
    if (head[pos] !== 0xff) return false;
    const marker = head[pos + 1];
    if (marker === 0xda) return true;
    if (marker === 0xff) pos++;
    else if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) pos += 2;
    else pos += 2 + ((head[pos + 2] << 8) | head[pos + 3]);
  }
  return false;
}

/** true: the segment as it is; false: dropped; bytes: its new body. */
function jpegSegment(marker: number, body: Uint8Array, mode: StripMode, removed: Set<Stripped>): boolean | Uint8Array {
  if (marker === 0xe1 && startsWith(body, EXIF_ID)) {
    const tiff = exifBlock(body.subarray(6), mode, removed);
    if (!tiff) return false;
    return concat([body.subarray(0, 6), tiff]);
  }
  if (marker === 0xe1 && XMP_IDS.some((id) => startsWith(body, id))) return keepXmp(body, mode, removed);
  if (mode !== "all") return true;
  if (marker === 0xed && startsWith(body, "Photoshop 3.0\0")) {
    removed.add("iptc");
    return false;
  }
  if (marker === 0xfe) {
    removed.add("comment");
    return false;
  }
  return true;
}

// -------------------------------------------------------------------------------------- PNG

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function png(b: Uint8Array, mode: StripMode, removed: Set<Stripped>): Uint8Array | null {
  if (!PNG_SIGNATURE.every((x, i) => b[i] === x)) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const parts: Uint8Array[] = [b.subarray(0, 8)];
  let pos = 8;
  while (pos + 12 <= b.length) {
    const len = v.getUint32(pos);
    const type = ascii(b, pos + 4, 4);
    const end = pos + 12 + len;
    if (end > b.length) return null;
    const data = b.subarray(pos + 8, pos + 8 + len);
    const keep = pngChunk(type, data, mode, removed);
    if (keep === true) parts.push(b.subarray(pos, end));
    else if (keep) parts.push(pngChunkBytes(type, keep));
    pos = end;
    if (type === "IEND") break;
  }
  parts.push(b.subarray(pos));
  return concat(parts);
}

function pngChunk(type: string, data: Uint8Array, mode: StripMode, removed: Set<Stripped>): boolean | Uint8Array {
  if (type === "eXIf") return exifBlock(data, mode, removed) ?? false;
  if (type !== "tEXt" && type !== "zTXt" && type !== "iTXt") return true;
  const keyword = ascii(data, 0, Math.max(0, data.indexOf(0)));
  if (keyword === "XML:com.adobe.xmp") return keepXmp(data, mode, removed);
  if (mode !== "all") return true;
  removed.add(/iptc/i.test(keyword) ? "iptc" : /exif|APP1/i.test(keyword) ? "exif" : "comment");
  return false;
}

function pngChunkBytes(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

let CRC_TABLE: Uint32Array | undefined;
function crc32(b: Uint8Array): number {
  CRC_TABLE ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ------------------------------------------------------------------------------------- WebP

const VP8X_EXIF = 0x08;
const VP8X_XMP = 0x04;

function webp(b: Uint8Array, mode: StripMode, removed: Set<Stripped>): Uint8Array | null {
  if (ascii(b, 0, 4) !== "RIFF" || ascii(b, 8, 4) !== "WEBP") return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const chunks: { id: string; data: Uint8Array }[] = [];
  for (let pos = 12; pos + 8 <= b.length; ) {
    const size = v.getUint32(pos + 4, true);
    if (pos + 8 + size > b.length) return null;
    chunks.push({ id: ascii(b, pos, 4), data: b.subarray(pos + 8, pos + 8 + size) });
    pos += 8 + size + (size & 1);
  }
  let dropped = 0;
  const kept = chunks.flatMap((c) => {
    let data: Uint8Array | null = c.data;
    if (c.id === "EXIF") {
      // Some writers keep JPEG's "Exif\0\0" before the TIFF structure.
      const prefixed = startsWith(c.data, EXIF_ID);
      const tiff = exifBlock(prefixed ? c.data.subarray(6) : c.data, mode, removed);
      data = tiff && (prefixed ? concat([c.data.subarray(0, 6), tiff]) : tiff);
      if (!data) dropped |= VP8X_EXIF;
    } else if (c.id === "XMP " && !keepXmp(c.data, mode, removed)) {
      data = null;
      dropped |= VP8X_XMP;
    }
    return data ? [{ id: c.id, data }] : [];
  });
  const parts: Uint8Array[] = [];
  for (const c of kept) {
    let data = c.data;
    if (c.id === "VP8X" && dropped) {
      data = data.slice();
      data[0] &= ~dropped;
    }
    const head = new Uint8Array(8);
    for (let i = 0; i < 4; i++) head[i] = c.id.charCodeAt(i);
    new DataView(head.buffer).setUint32(4, data.length, true);
    parts.push(head, data, new Uint8Array(data.length & 1));
  }
  const body = concat(parts);
  const riff = new Uint8Array(12);
  riff.set(b.subarray(0, 12));
  new DataView(riff.buffer).setUint32(4, body.length + 4, true);
  return concat([riff, body]);
}
