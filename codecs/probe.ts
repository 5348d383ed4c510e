// Format and size from the first bytes of a file, without decoding pixels and without wasm:
// the upload path uses it to refuse non-images and decompression bombs before any decoder sees
// them, and the worker to pick the decoder. Every reader is defensive: a field that runs past
// the buffer means "not recognised" (null), never an exception. Sizes are as stored (EXIF
// orientation is the pipeline's business: a pixel count does not depend on it).

import type { InputFormat, ProbeResult } from "./types.ts";

const MIME: Record<InputFormat, string> = {
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
  avif: "image/avif",
  heic: "image/heic",
  tiff: "image/tiff",
  bmp: "image/bmp",
  ico: "image/x-icon",
  svg: "image/svg+xml",
  jxl: "image/jxl",
  tga: "image/x-tga",
  qoi: "image/qoi",
  pnm: "image/x-portable-anymap",
  hdr: "image/vnd.radiance",
};

/** Big- or little-endian reads that return -1 instead of reading past the end. */
class Bytes {
  constructor(
    readonly b: Uint8Array,
    public le = false,
  ) {}
  get length(): number {
    return this.b.length;
  }
  u8(o: number): number {
    return o >= 0 && o < this.b.length ? this.b[o]! : -1;
  }
  u16(o: number): number {
    if (o < 0 || o + 2 > this.b.length) return -1;
    return this.le ? this.b[o]! | (this.b[o + 1]! << 8) : (this.b[o]! << 8) | this.b[o + 1]!;
  }
  u24le(o: number): number {
    if (o < 0 || o + 3 > this.b.length) return -1;
    return this.b[o]! | (this.b[o + 1]! << 8) | (this.b[o + 2]! << 16);
  }
  u32(o: number): number {
    if (o < 0 || o + 4 > this.b.length) return -1;
    const [a, b, c, d] = [this.b[o]!, this.b[o + 1]!, this.b[o + 2]!, this.b[o + 3]!];
    // `>>> 0` keeps values ≥ 2^31 positive (a 65536×65536 PNG is legal input to probe).
    return (this.le ? a | (b << 8) | (c << 16) | (d << 24) : (a << 24) | (b << 16) | (c << 8) | d) >>> 0;
  }
  ascii(o: number, n: number): string {
    if (o < 0 || o + n > this.b.length) return "";
    return String.fromCharCode(...this.b.subarray(o, o + n));
  }
}

function result(format: InputFormat, width: number, height: number, mime = MIME[format]): ProbeResult | null {
  if (!(width > 0 && height > 0) || !Number.isFinite(width) || !Number.isFinite(height)) return null;
  return { format, mime, width, height };
}

export function probe(head: Uint8Array): ProbeResult | null {
  const r = new Bytes(head);
  if (r.u8(0) === 0xff && r.u8(1) === 0xd8 && r.u8(2) === 0xff) return probeJpeg(r);
  if (r.u32(0) === 0x89504e47 && r.u32(4) === 0x0d0a1a0a) return probePng(r);
  if (r.ascii(0, 4) === "RIFF" && r.ascii(8, 4) === "WEBP") return probeWebp(r);
  if (r.ascii(0, 6) === "GIF87a" || r.ascii(0, 6) === "GIF89a") {
    r.le = true;
    return result("gif", r.u16(6), r.u16(8));
  }
  if (r.ascii(4, 4) === "ftyp") return probeHeif(r);
  if (r.ascii(0, 4) === "II*\0" || r.ascii(0, 4) === "MM\0*") return probeTiff(r);
  if (r.ascii(0, 2) === "BM") return probeBmp(r);
  if (r.u32(0) === 0x00000100) return probeIco(r);
  if ((r.u8(0) === 0xff && r.u8(1) === 0x0a) || r.ascii(4, 8) === "JXL \r\n\x87\n") return probeJxl(head);
  if (r.ascii(0, 4) === "qoif") return probeQoi(r);
  if (r.u8(0) === 0x50 && /^P[1-7Ff]\s$/.test(r.ascii(0, 3))) return probePnm(head);
  if (r.ascii(0, 2) === "#?") return probeHdr(head);
  return probeSvg(head) ?? probeTga(r);
}

/** What probe() recognises, for messages that tell a user what to send instead. */
export const SUPPORTED_INPUTS =
  "JPEG, PNG, WebP, GIF, AVIF, HEIC/HEIF, TIFF, BMP, ICO, SVG, JPEG XL, TGA, QOI, PNM (PBM, PGM, PPM, PAM) and Radiance HDR";

/** Formats recognised only to be refused with a reason (a message naming what to do). */
export function unsupportedFormat(head: Uint8Array): string | null {
  const r = new Bytes(head);
  if (r.u32(0) === 0x762f3101) {
    return "OpenEXR is not supported (no maintained WebAssembly OpenEXR decoder exists): convert it to 16-bit TIFF or PNG, or Radiance HDR";
  }
  return null;
}

// ---------------------------------------------------------------------------------------- JPEG

function isSof(m: number): boolean {
  // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range.
  return m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
}

function probeJpeg(r: Bytes): ProbeResult | null {
  let pos = 2;
  while (pos < r.length) {
    if (r.u8(pos) !== 0xff) return null;
    let m = r.u8(pos + 1);
    while (m === 0xff) m = r.u8(++pos + 1); // fill bytes
    if (m < 0) return null;
    // Markers without a length: TEM, RSTn.
    if (m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      pos += 2;
      continue;
    }
    if (m === 0xd9 || m === 0xda) return null; // EOI or scan before any frame header
    const len = r.u16(pos + 2);
    if (len < 2) return null;
    if (isSof(m)) return result("jpeg", r.u16(pos + 7), r.u16(pos + 5));
    pos += 2 + len;
  }
  return null;
}

// ---------------------------------------------------------------------------------------- TIFF

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

function probeTiff(r: Bytes): ProbeResult | null {
  const ifd = readIfd0(r.b);
  if (!ifd || ifd.width === undefined || ifd.height === undefined) return null;
  return result("tiff", ifd.width, ifd.height);
}

// ----------------------------------------------------------------------------------------- PNG

function probePng(r: Bytes): ProbeResult | null {
  if (r.ascii(12, 4) !== "IHDR") return null;
  return result("png", r.u32(16), r.u32(20));
}

// ---------------------------------------------------------------------------------------- WebP

function probeWebp(r: Bytes): ProbeResult | null {
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

// ------------------------------------------------------------------------------- AVIF and HEIC

interface Box {
  type: string;
  start: number; // first byte of the payload
  end: number; // one past the last byte of the box
}

function* boxes(r: Bytes, from: number, to: number): Generator<Box> {
  let pos = from;
  while (pos + 8 <= to) {
    let size = r.u32(pos);
    const type = r.ascii(pos + 4, 4);
    let start = pos + 8;
    if (size === 1) {
      const hi = r.u32(pos + 8);
      const lo = r.u32(pos + 12);
      if (hi < 0 || lo < 0) return;
      size = hi * 2 ** 32 + lo;
      start += 8;
    } else if (size === 0) {
      size = to - pos; // box runs to the end of its container
    }
    if (size < start - pos) return;
    yield { type, start, end: Math.min(pos + size, to) };
    pos += size;
  }
}

function child(r: Bytes, parent: Box, type: string, skip = 0): Box | undefined {
  for (const b of boxes(r, parent.start + skip, parent.end)) if (b.type === type) return b;
  return undefined;
}

const AVIF_BRANDS = new Set(["avif", "avis"]);
const HEIC_BRANDS = new Set(["heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs"]);

function probeHeif(r: Bytes): ProbeResult | null {
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

// ----------------------------------------------------------------------------------- BMP, ICO

function probeBmp(r: Bytes): ProbeResult | null {
  r.le = true;
  const dib = r.u32(14);
  if (dib === 12) return result("bmp", r.u16(18), r.u16(20));
  if (dib < 40) return null;
  const w = r.u32(18) | 0;
  const h = r.u32(22) | 0; // negative height = top-down rows
  return result("bmp", Math.abs(w), Math.abs(h));
}

function probeIco(r: Bytes): ProbeResult | null {
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

// ---------------------------------------------------------------------------------- JPEG XL

/** JPEG XL fields are bit-packed, least significant bit first. */
class Bits {
  private pos = 0;
  constructor(private readonly b: Uint8Array) {}
  read(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++, this.pos++) {
      const byte = this.b[this.pos >> 3];
      if (byte === undefined) throw new RangeError("end of data");
      v += ((byte >> (this.pos & 7)) & 1) * 2 ** i;
    }
    return v;
  }
}

function jxlCodestream(head: Uint8Array): Uint8Array | null {
  if (head[0] === 0xff && head[1] === 0x0a) return head;
  const r = new Bytes(head);
  for (const b of boxes(r, 0, r.length)) {
    if (b.type === "jxlc") return head.subarray(b.start, b.end);
    if (b.type === "jxlp") return head.subarray(b.start + 4, b.end); // first partial codestream
  }
  return null;
}

function probeJxl(head: Uint8Array): ProbeResult | null {
  const cs = jxlCodestream(head);
  if (!cs || cs[0] !== 0xff || cs[1] !== 0x0a) return null;
  try {
    const bits = new Bits(cs.subarray(2));
    const size = () => 1 + bits.read([9, 13, 18, 30][bits.read(2)]!);
    const RATIO = [0, 1, 12 / 10, 4 / 3, 3 / 2, 16 / 9, 5 / 4, 2];
    let width: number;
    let height: number;
    if (bits.read(1)) {
      height = (bits.read(5) + 1) * 8;
      const ratio = bits.read(3);
      width = ratio ? Math.floor(height * RATIO[ratio]!) : (bits.read(5) + 1) * 8;
    } else {
      height = size();
      const ratio = bits.read(3);
      width = ratio ? Math.floor(height * RATIO[ratio]!) : size();
    }
    return result("jxl", width, height);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------- SVG

const SVG_DEFAULT = { width: 300, height: 150 }; // the CSS default object size

/** A length in px (or unitless); anything relative or physical counts as absent. */
function svgLength(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*([+]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*(px)?\s*$/i.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n > 0 && Number.isFinite(n) ? n : undefined;
}

function probeSvg(head: Uint8Array): ProbeResult | null {
  // Only the beginning matters; decoding a whole 1 MiB as text would be waste.
  let text = new TextDecoder("utf-8", { fatal: false }).decode(head.subarray(0, 64 * 1024));
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let i = 0;
  // Skip the prolog: whitespace, <?xml ?>, comments, doctype (with an internal subset).
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text.startsWith("<?", i)) {
      const e = text.indexOf("?>", i);
      if (e < 0) return null;
      i = e + 2;
    } else if (text.startsWith("<!--", i)) {
      const e = text.indexOf("-->", i);
      if (e < 0) return null;
      i = e + 3;
    } else if (text.startsWith("<!DOCTYPE", i) || text.startsWith("<!doctype", i)) {
      const bracket = text.indexOf("[", i);
      const close = text.indexOf(">", i);
      if (close < 0) return null;
      if (bracket >= 0 && bracket < close) {
        const e = text.indexOf("]", bracket);
        if (e < 0) return null;
        const e2 = text.indexOf(">", e);
        if (e2 < 0) return null;
        i = e2 + 1;
      } else i = close + 1;
    } else break;
  }
  const tag = /^<svg(?=[\s/>])/.exec(text.slice(i, i + 5));
  if (!tag) return null;
  // The opening tag ends at the first '>' outside quotes.
  let end = i + 4;
  let quote = "";
  for (; end < text.length; end++) {
    const c = text[end]!;
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ">") break;
  }
  if (end >= text.length) return null;
  const attrs = new Map<string, string>();
  for (const m of text.slice(i + 4, end).matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    attrs.set(m[1]!, m[2] ?? m[3] ?? "");
  }
  let width = svgLength(attrs.get("width"));
  let height = svgLength(attrs.get("height"));
  const vb = (attrs.get("viewBox") ?? "")
    .trim()
    .split(/[\s,]+/)
    .map(Number);
  const vbw = vb.length === 4 && vb[2]! > 0 ? vb[2]! : undefined;
  const vbh = vb.length === 4 && vb[3]! > 0 ? vb[3]! : undefined;
  if (vbw !== undefined && vbh !== undefined) {
    if (width === undefined && height === undefined) {
      width = vbw;
      height = vbh;
    } else if (width === undefined) width = (height! * vbw) / vbh;
    else if (height === undefined) height = (width * vbh) / vbw;
  }
  return result(
    "svg",
    Math.max(1, Math.round(width ?? SVG_DEFAULT.width)),
    Math.max(1, Math.round(height ?? SVG_DEFAULT.height)),
  );
}

// ------------------------------------------------------------------------ QOI, PNM, HDR, TGA

function probeQoi(r: Bytes): ProbeResult | null {
  const channels = r.u8(12);
  if (channels !== 3 && channels !== 4) return null;
  return result("qoi", r.u32(4), r.u32(8));
}

const PNM_MIME: Record<string, string> = {
  P1: "image/x-portable-bitmap",
  P4: "image/x-portable-bitmap",
  P2: "image/x-portable-graymap",
  P5: "image/x-portable-graymap",
  P3: "image/x-portable-pixmap",
  P6: "image/x-portable-pixmap",
  P7: "image/x-portable-arbitrarymap",
  PF: "image/x-portable-floatmap",
  Pf: "image/x-portable-floatmap",
};

/** Netpbm: "P1"–"P6" and "PF"/"Pf" then width and height as text (comments allowed); PAM's keyed header. */
function probePnm(head: Uint8Array): ProbeResult | null {
  const text = new TextDecoder("latin1").decode(head.subarray(0, 1024));
  const magic = text.slice(0, 2);
  if (magic === "P7") {
    const w = /\nWIDTH\s+(\d{1,9})\s/.exec(text);
    const h = /\nHEIGHT\s+(\d{1,9})\s/.exec(text);
    if (!w || !h || !text.includes("ENDHDR\n")) return null;
    return result("pnm", Number(w[1]), Number(h[1]), PNM_MIME.P7);
  }
  const tokens = text
    .slice(2)
    .replace(/#[^\n]*\n/g, " ")
    .trim()
    .split(/\s+/);
  if (!/^\d{1,9}$/.test(tokens[0] ?? "") || !/^\d{1,9}$/.test(tokens[1] ?? "")) return null;
  return result("pnm", Number(tokens[0]), Number(tokens[1]), PNM_MIME[magic]);
}

/** Radiance RGBE: "#?RADIANCE" (or "#?RGBE"), header lines, a blank line, then "-Y h +X w". */
function probeHdr(head: Uint8Array): ProbeResult | null {
  const text = new TextDecoder("latin1").decode(head.subarray(0, 4096));
  if (!/^#\?(RADIANCE|RGBE)\n/.test(text)) return null;
  const m = /\n\n([-+])Y +(\d{1,9}) +([-+])X +(\d{1,9})\n/.exec(text);
  if (!m) return null;
  return result("hdr", Number(m[4]), Number(m[2]));
}

/**
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

// ------------------------------------------------------------------------ frames and alpha

/** What the header says about frames and transparency (see `probeLayout`). */
export interface Layout {
  /** Frames (animation frames, or pages an animated PNG declares); 1 for a still image. */
  frames: number;
  /** Whether the file declares an alpha channel or a transparent colour. */
  hasAlpha: boolean;
}

/**
 * Frames and alpha from the structure of a whole file, without decoding pixels: GIF blocks,
 * WebP chunks, PNG chunks, and header fields elsewhere. JPEG XL's extra channels are not read
 * (reported opaque).
 */
export function probeLayout(bytes: Uint8Array, format: InputFormat): Layout {
  const r = new Bytes(bytes);
  const still = (hasAlpha: boolean): Layout => ({ frames: 1, hasAlpha });
  switch (format) {
    case "gif":
      return gifLayout(r);
    case "webp":
      return webpLayout(r);
    case "png": {
      let frames = 1;
      let alpha = r.u8(25) === 4 || r.u8(25) === 6;
      for (let pos = 8; pos + 8 <= r.length; ) {
        const len = r.u32(pos);
        const type = r.ascii(pos + 4, 4);
        if (len < 0 || type === "IDAT" || type === "IEND") break;
        if (type === "tRNS") alpha = true;
        if (type === "acTL") frames = Math.max(1, r.u32(pos + 8));
        pos += 12 + len;
      }
      return { frames, hasAlpha: alpha };
    }
    case "bmp": {
      r.le = true;
      const dib = r.u32(14);
      const bpp = r.u16(28);
      const compression = r.u32(30);
      return still(bpp === 32 && (compression === 6 || (dib >= 56 && r.u32(14 + 52) !== 0)));
    }
    case "ico":
    case "svg":
      return still(true);
    case "tga":
      return still((r.u8(17) & 0x0f) > 0);
    case "qoi":
      return still(r.u8(12) === 4);
    case "pnm":
      return still(/TUPLTYPE\s+\S*_ALPHA/.test(r.ascii(0, Math.min(r.length, 512))));
    case "tiff":
      return still(tiffHasExtraSamples(bytes));
    case "avif":
    case "heic": {
      // An alpha plane is an auxiliary item whose auxC names the alpha URN (AV1 or HEVC form).
      const head = new TextDecoder("latin1").decode(bytes.subarray(0, 64 * 1024));
      return still(head.includes("auxiliary:alpha") || head.includes("urn:mpeg:hevc:2015:auxid:1"));
    }
    default:
      return still(false);
  }
}

function gifLayout(r: Bytes): Layout {
  r.le = true;
  let pos = 13;
  const flags = r.u8(10);
  if (flags & 0x80) pos += 3 * 2 ** ((flags & 7) + 1);
  let frames = 0;
  let alpha = false;
  const skipSubBlocks = () => {
    for (let n = r.u8(pos); n > 0; n = r.u8(pos)) pos += n + 1;
    pos += 1;
  };
  while (pos < r.length) {
    const b = r.u8(pos);
    if (b === 0x21) {
      if (r.u8(pos + 1) === 0xf9 && r.u8(pos + 3) & 1) alpha = true;
      pos += 2;
      skipSubBlocks();
    } else if (b === 0x2c) {
      frames++;
      const local = r.u8(pos + 9);
      pos += 10;
      if (local & 0x80) pos += 3 * 2 ** ((local & 7) + 1);
      pos += 1; // LZW minimum code size
      skipSubBlocks();
    } else break; // 0x3B trailer, or something broken: count what was seen
  }
  return { frames: Math.max(1, frames), hasAlpha: alpha };
}

function webpLayout(r: Bytes): Layout {
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

/**
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

// ------------------------------------------------------------------------------ completeness

/** How much trailing padding after the end marker is tolerated (some writers pad). */
const TRAILER_SLACK = 4096;

/**
 * A cheap structural check that the file is not cut off, from its first and last bytes.
 * Formats without a cheap check pass.
 */
export function checkComplete(head: Uint8Array, tail: Uint8Array, format: InputFormat): boolean {
  if (format === "jpeg") {
    // FF D9 cannot occur inside entropy-coded data (FF is stuffed), so finding it near the
    // end means the main image's scan finished.
    const from = Math.max(0, tail.length - TRAILER_SLACK - 2);
    for (let i = tail.length - 2; i >= from; i--) if (tail[i] === 0xff && tail[i + 1] === 0xd9) return true;
    return false;
  }
  if (format === "png") {
    const from = Math.max(0, tail.length - TRAILER_SLACK - 12);
    for (let i = tail.length - 12; i >= from; i--) {
      // Length 0, then "IEND".
      if (
        tail[i] === 0 &&
        tail[i + 1] === 0 &&
        tail[i + 2] === 0 &&
        tail[i + 3] === 0 &&
        tail[i + 4] === 0x49 &&
        tail[i + 5] === 0x45 &&
        tail[i + 6] === 0x4e &&
        tail[i + 7] === 0x44
      )
        return true;
    }
    return false;
  }
  if (format === "gif") {
    // The trailer byte 0x3B, allowing for padding zeros after it.
    for (let i = tail.length - 1; i >= Math.max(0, tail.length - TRAILER_SLACK); i--) {
      if (tail[i] === 0x3b) return true;
      if (tail[i] !== 0) return false;
    }
    return false;
  }
  void head;
  return true;
}
