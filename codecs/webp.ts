// Lossy WebP output through @jsquash/webp's SIMD libwebp build, rewritten where Bun's JIT
// miscompiles it (see wasm.ts; wasm-vips' webpsave has the unrewritten SIMD code): RGBA pixels out of the final vips image, libwebp's encoder, then a
// small RIFF mux that adds back what webpsave would have written (ICC profile, EXIF, XMP).

import { WEBP_EFFORT } from "./effort.ts";
import type { VipsImage, WebpEncodeOptions, WebpEncoder } from "./wasm.ts";

/**
 * libwebp's `method` (speed/size trade-off, 0–6), by default IMGD_WEBP_EFFORT's: see
 * codecs/effort.ts and the measured table in README "Encoder effort".
 */
export const WEBP_METHOD = WEBP_EFFORT;

/** libwebp's WebPConfig for lossy output: WebPConfigPreset(DEFAULT, q), as webpsave and sharp use. */
export function webpOptions(quality: number, method = WEBP_METHOD): WebpEncodeOptions {
  return {
    quality,
    target_size: 0,
    target_PSNR: 0,
    method,
    sns_strength: 50,
    filter_strength: 60,
    filter_sharpness: 0,
    filter_type: 1,
    partitions: 0,
    segments: 4,
    pass: 1,
    show_compressed: 0,
    preprocessing: 0,
    autofilter: 0,
    partition_limit: 0,
    alpha_compression: 1,
    alpha_filtering: 1,
    alpha_quality: 100,
    lossless: 0,
    exact: 0,
    image_hint: 0,
    emulate_jpeg_size: 0,
    thread_level: 0,
    low_memory: 0,
    near_lossless: 100,
    use_delta_palette: 0,
    use_sharp_yuv: 0,
  };
}

/** What of the image's metadata goes into the file: as the `keep` option of vips' savers. */
export type Keep = "none" | "icc" | "all";

/**
 * Encodes an 8-bit sRGB image (3 or 4 bands; other layouts are converted) as lossy WebP.
 * Alpha is kept when the image has it; otherwise an opaque alpha is added and libwebp, seeing
 * it opaque, writes no alpha channel.
 */
export function encodeWebp(
  image: VipsImage,
  encoder: WebpEncoder,
  quality: number,
  keep: Keep,
  method = WEBP_METHOD,
): Uint8Array {
  const owned: VipsImage[] = [];
  try {
    let img = image;
    if (img.format !== "uchar" || (img.bands !== 3 && img.bands !== 4)) {
      img = img.colourspace("srgb");
      owned.push(img);
      if (img.format !== "uchar") owned.push((img = img.cast("uchar")));
      if (img.bands > 4) owned.push((img = img.extractBand(0, { n: 4 })));
    }
    if (img.bands === 3) owned.push((img = img.bandjoin(255)));
    const rgba = img.writeToMemory() as Uint8Array;
    const file = encoder.encode(rgba, img.width, img.height, webpOptions(quality, method));
    return keep === "none" ? file : mux(file, chunksToKeep(image, keep), img.width, img.height);
  } finally {
    for (const i of owned) i.delete();
  }
}

interface Extra {
  icc?: Uint8Array;
  exif?: Uint8Array;
  xmp?: Uint8Array;
}

function blob(image: VipsImage, name: string): Uint8Array | undefined {
  if (!image.getTypeof(name)) return undefined;
  const b = image.getBlob(name);
  return b.length > 0 ? new Uint8Array(b) : undefined;
}

function chunksToKeep(image: VipsImage, keep: Keep): Extra {
  const out: Extra = { icc: blob(image, "icc-profile-data") };
  if (keep !== "all") return out;
  let exif = blob(image, "exif-data");
  if (exif) {
    // libvips keeps the JPEG APP1 form ("Exif\0\0" + TIFF); a WebP EXIF chunk holds the TIFF.
    if (ascii(exif, 0, 6) === "Exif\0\0") exif = exif.subarray(6);
    // The pixels are upright now (autorot ran): the file must not ask for a rotation again.
    resetOrientation(exif);
  }
  out.exif = exif;
  out.xmp = blob(image, "xmp-data");
  return out;
}

function ascii(b: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...b.subarray(at, at + n));
}

/** Sets IFD0's Orientation (0x0112) to 1 in place, if the TIFF structure has one. */
export function resetOrientation(tiff: Uint8Array): void {
  if (tiff.length < 8) return;
  const order = ascii(tiff, 0, 2);
  if (order !== "II" && order !== "MM") return;
  const v = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const le = order === "II";
  const ifd = v.getUint32(4, le);
  if (ifd + 2 > tiff.length) return;
  const count = v.getUint16(ifd, le);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > tiff.length) return;
    if (v.getUint16(e, le) === 0x0112 && v.getUint16(e + 2, le) === 3) v.setUint16(e + 8, 1, le);
  }
}

// ------------------------------------------------------------------------------------- RIFF

interface Chunk {
  id: string;
  data: Uint8Array;
}

function readChunks(file: Uint8Array): Chunk[] {
  if (ascii(file, 0, 4) !== "RIFF" || ascii(file, 8, 4) !== "WEBP") throw new Error("webp mux: not a WebP file");
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const chunks: Chunk[] = [];
  for (let pos = 12; pos + 8 <= file.length; ) {
    const id = ascii(file, pos, 4);
    const size = v.getUint32(pos + 4, true);
    chunks.push({ id, data: file.subarray(pos + 8, pos + 8 + size) });
    pos += 8 + size + (size & 1);
  }
  return chunks;
}

/**
 * Rewrites a simple or extended WebP as extended (VP8X) with the extra chunks, in the order
 * the container spec requires: VP8X, ICCP, (ALPH,) VP8/VP8L, EXIF, XMP.
 */
export function mux(file: Uint8Array, extra: Extra, width: number, height: number): Uint8Array {
  if (!extra.icc && !extra.exif && !extra.xmp) return file;
  const image = readChunks(file).filter((c) => c.id === "ALPH" || c.id === "VP8 " || c.id === "VP8L");
  const hasAlpha = image.some((c) => c.id === "ALPH");
  let flags = 0;
  if (extra.icc) flags |= 0x20;
  if (hasAlpha) flags |= 0x10;
  if (extra.exif) flags |= 0x08;
  if (extra.xmp) flags |= 0x04;
  const vp8x = new Uint8Array(10);
  vp8x[0] = flags;
  const put24 = (at: number, n: number) => {
    vp8x[at] = n & 0xff;
    vp8x[at + 1] = (n >> 8) & 0xff;
    vp8x[at + 2] = (n >> 16) & 0xff;
  };
  put24(4, width - 1);
  put24(7, height - 1);
  const chunks: Chunk[] = [{ id: "VP8X", data: vp8x }];
  if (extra.icc) chunks.push({ id: "ICCP", data: extra.icc });
  chunks.push(...image);
  if (extra.exif) chunks.push({ id: "EXIF", data: extra.exif });
  if (extra.xmp) chunks.push({ id: "XMP ", data: extra.xmp });

  const total = 12 + chunks.reduce((n, c) => n + 8 + c.data.length + (c.data.length & 1), 0);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  const tag = (at: number, s: string) => {
    for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i);
  };
  tag(0, "RIFF");
  v.setUint32(4, total - 8, true);
  tag(8, "WEBP");
  let pos = 12;
  for (const c of chunks) {
    tag(pos, c.id);
    v.setUint32(pos + 4, c.data.length, true);
    out.set(c.data, pos + 8);
    pos += 8 + c.data.length + (c.data.length & 1); // odd sizes are padded with a zero byte
  }
  return out;
}

// ---------------------------------------------------------------------------- animation

/**
 * Animated WebP from single-frame WebP files of the canvas size (each from the non-SIMD
 * encoder): VP8X with the animation flag, ANIM (loop count), then one ANMF per frame holding
 * that frame's ALPH/VP8/VP8L chunks. Frames are whole canvases, so each replaces the last
 * (no blending, no disposal needed).
 */
export function encodeAnimatedWebp(
  files: Uint8Array[],
  width: number,
  height: number,
  delays: number[],
  loop: number,
): Uint8Array {
  const frameChunks = files.map((f) =>
    readChunks(f).filter((c) => c.id === "ALPH" || c.id === "VP8 " || c.id === "VP8L"),
  );
  const hasAlpha = frameChunks.some((cs) =>
    cs.some((c) => c.id === "ALPH" || (c.id === "VP8L" && ((c.data[4]! >> 4) & 1) === 1)),
  );
  const u24 = (n: number) => [n & 255, (n >> 8) & 255, (n >> 16) & 255];
  const vp8x = new Uint8Array([0x02 | (hasAlpha ? 0x10 : 0), 0, 0, 0, ...u24(width - 1), ...u24(height - 1)]);
  const anim = new Uint8Array([0, 0, 0, 0, loop & 255, (loop >> 8) & 255]);
  const chunks: Chunk[] = [
    { id: "VP8X", data: vp8x },
    { id: "ANIM", data: anim },
  ];
  frameChunks.forEach((cs, i) => {
    const head = [
      ...u24(0),
      ...u24(0),
      ...u24(width - 1),
      ...u24(height - 1),
      ...u24(Math.min(0xffffff, delays[i] ?? 100)),
      0x02,
    ];
    const body = cs.reduce((n, c) => n + 8 + c.data.length + (c.data.length & 1), 0);
    const data = new Uint8Array(head.length + body);
    data.set(head);
    writeChunks(data, head.length, cs);
    chunks.push({ id: "ANMF", data });
  });
  return riff(chunks);
}

function writeChunks(out: Uint8Array, at: number, chunks: Chunk[]): number {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let pos = at;
  for (const c of chunks) {
    for (let i = 0; i < 4; i++) out[pos + i] = c.id.charCodeAt(i);
    v.setUint32(pos + 4, c.data.length, true);
    out.set(c.data, pos + 8);
    pos += 8 + c.data.length + (c.data.length & 1);
  }
  return pos;
}

function riff(chunks: Chunk[]): Uint8Array {
  const total = 12 + chunks.reduce((n, c) => n + 8 + c.data.length + (c.data.length & 1), 0);
  const out = new Uint8Array(total);
  out.set([0x52, 0x49, 0x46, 0x46]);
  new DataView(out.buffer).setUint32(4, total - 8, true);
  out.set([0x57, 0x45, 0x42, 0x50], 8);
  writeChunks(out, 12, chunks);
  return out;
}
