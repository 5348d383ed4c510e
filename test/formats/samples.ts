// Small sample files of every input format, made here: tiny encoders for BMP, ICO, QOI and PAM
// (no npm package writes them all), @lunapaint/tga-codec for TGA, our own PPM/PGM writer, a flat RGBE writer for HDR,
// sharp for PNG/TIFF/GIF, and heif-enc's output (a checked-in fixture) for HEIC.

import { encodeTga } from "@lunapaint/tga-codec";
import sharp from "sharp";

/** A recognisable RGBA pattern: a red band on top, a horizontal gradient, a transparent corner. */
export function pattern(width: number, height: number, alpha = false): Uint8Array {
  const px = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const top = y < height / 5;
      px[i] = top ? 220 : Math.round((x * 255) / width);
      px[i + 1] = top ? 20 : 120;
      px[i + 2] = top ? 20 : Math.round((y * 255) / height);
      px[i + 3] = alpha && x >= width * 0.75 && y >= height * 0.75 ? 0 : 255;
    }
  }
  return px;
}

const u16 = (v: number) => [v & 255, (v >> 8) & 255];
const u32 = (v: number) => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255];

/** A BITMAPINFOHEADER DIB: 24-bit or 32-bit BGR(A), bottom-up unless `topDown`. */
function dib(
  rgba: Uint8Array,
  w: number,
  h: number,
  bits: 24 | 32,
  opts: { topDown?: boolean; icon?: boolean } = {},
): number[] {
  const stride = Math.ceil((w * bits) / 32) * 4;
  const rows: number[] = [];
  for (let r = 0; r < h; r++) {
    const y = opts.topDown ? r : h - 1 - r;
    const row: number[] = [];
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      row.push(rgba[i + 2]!, rgba[i + 1]!, rgba[i]!);
      if (bits === 32) row.push(rgba[i + 3]!);
    }
    while (row.length < stride) row.push(0);
    rows.push(...row);
  }
  const mask: number[] = [];
  if (opts.icon) {
    // AND mask: 1 = transparent, rows of 32-bit words, bottom-up.
    const ms = Math.ceil(w / 32) * 4;
    for (let r = 0; r < h; r++) {
      const y = h - 1 - r;
      const row = new Array(ms).fill(0);
      for (let x = 0; x < w; x++) if (rgba[(y * w + x) * 4 + 3]! < 128) row[x >> 3] |= 0x80 >> (x & 7);
      mask.push(...row);
    }
  }
  const height = opts.icon ? h * 2 : opts.topDown ? -h : h;
  return [
    ...u32(40),
    ...u32(w),
    ...u32(height >>> 0),
    ...u16(1),
    ...u16(bits),
    ...u32(0),
    ...u32(rows.length),
    ...u32(2835),
    ...u32(2835),
    ...u32(0),
    ...u32(0),
    ...rows,
    ...mask,
  ];
}

export function bmp(rgba: Uint8Array, w: number, h: number, bits: 24 | 32, topDown = false): Uint8Array {
  const body = dib(rgba, w, h, bits, { topDown });
  return new Uint8Array([0x42, 0x4d, ...u32(14 + body.length), 0, 0, 0, 0, ...u32(54), ...body]);
}

export type IcoPart =
  | { png: Uint8Array; width: number; height: number }
  | { rgba: Uint8Array; width: number; height: number; bits: 24 | 32 };

export function ico(parts: IcoPart[]): Uint8Array {
  const blobs = parts.map((p) => ("png" in p ? [...p.png] : dib(p.rgba, p.width, p.height, p.bits, { icon: true })));
  const dir: number[] = [0, 0, 1, 0, ...u16(parts.length)];
  let at = 6 + 16 * parts.length;
  parts.forEach((p, i) => {
    const bits = "png" in p ? 32 : p.bits;
    dir.push(
      p.width >= 256 ? 0 : p.width,
      p.height >= 256 ? 0 : p.height,
      0,
      0,
      ...u16(1),
      ...u16(bits),
      ...u32(blobs[i]!.length),
      ...u32(at),
    );
    at += blobs[i]!.length;
  });
  return new Uint8Array([...dir, ...blobs.flat()]);
}

/** QOI with QOI_OP_RGB(A) and QOI_OP_RUN only: valid, if not small. */
export function qoi(rgba: Uint8Array, w: number, h: number, channels: 3 | 4): Uint8Array {
  const out: number[] = [
    0x71,
    0x6f,
    0x69,
    0x66,
    ...[w, h].flatMap((v) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]),
    channels,
    0,
  ];
  let prev = [0, 0, 0, 255];
  let run = 0;
  const flush = () => {
    if (run) out.push(0xc0 | (run - 1));
    run = 0;
  };
  for (let i = 0; i < w * h; i++) {
    const px = [rgba[i * 4]!, rgba[i * 4 + 1]!, rgba[i * 4 + 2]!, channels === 4 ? rgba[i * 4 + 3]! : 255];
    if (px.every((v, k) => v === prev[k]) && i > 0) {
      if (++run === 62) flush();
      continue;
    }
    flush();
    if (px[3] === prev[3]) out.push(0xfe, px[0]!, px[1]!, px[2]!);
    else out.push(0xff, ...px);
    prev = px;
  }
  flush();
  out.push(0, 0, 0, 0, 0, 0, 0, 1);
  return new Uint8Array(out);
}

export function pam(rgba: Uint8Array, w: number, h: number): Uint8Array {
  const head = new TextEncoder().encode(
    `P7\nWIDTH ${w}\nHEIGHT ${h}\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n`,
  );
  const out = new Uint8Array(head.length + rgba.length);
  out.set(head);
  out.set(rgba, head.length);
  return out;
}

export async function tga(rgba: Uint8Array, w: number, h: number): Promise<Uint8Array> {
  const { data } = await encodeTga(
    { width: w, height: h, data: rgba },
    { imageType: 10 as never, bitDepth: 32 as never },
  );
  return data;
}

/** Radiance RGBE, flat scanlines (no RLE), linear light from the sRGB pattern. */
export function hdr(rgba: Uint8Array, w: number, h: number): Uint8Array {
  const head = new TextEncoder().encode(`#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y ${h} +X ${w}\n`);
  const out = new Uint8Array(head.length + w * h * 4);
  out.set(head);
  const lin = (v: number) => ((v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  for (let i = 0; i < w * h; i++) {
    const c = [lin(rgba[i * 4]!), lin(rgba[i * 4 + 1]!), lin(rgba[i * 4 + 2]!)];
    const max = Math.max(...c);
    const o = head.length + i * 4;
    if (max < 1e-32) continue;
    const e = Math.floor(Math.log2(max)) + 1;
    const scale = 256 / 2 ** e;
    out.set([...c.map((v) => Math.min(255, Math.floor(v * scale))), e + 128], o);
  }
  return out;
}

/**
 * PPM (RGB) or PGM (grey, Rec. 709 weights) as libvips writes them: a text header, then one byte
 * per sample. Written here rather than by wasm-vips: every wasm-vips instance in the test
 * process stays until the process ends (see test/helpers/images.ts).
 */
export function pnm(rgba: Uint8Array, w: number, h: number, ext: ".ppm" | ".pgm"): Uint8Array {
  const channels = ext === ".ppm" ? 3 : 1;
  const header = new TextEncoder().encode(`${ext === ".ppm" ? "P6" : "P5"}\n${w} ${h}\n255\n`);
  const out = new Uint8Array(header.length + w * h * channels);
  out.set(header);
  for (let i = 0, o = header.length; i < w * h; i++) {
    const [r, g, b] = rgba.subarray(i * 4, i * 4 + 3);
    if (channels === 3) out.set([r, g, b], o);
    else out[o] = Math.round(0.2126 * r + 0.7152 * g + 0.0722 * b);
    o += channels;
  }
  return out;
}

export async function viaSharp(
  rgba: Uint8Array,
  w: number,
  h: number,
  format: "png" | "tiff" | "gif" | "jpeg" | "webp" | "avif",
): Promise<Uint8Array> {
  const img = sharp(rgba, { raw: { width: w, height: h, channels: 4 } });
  // sharp's TIFF default is JPEG-compressed (no alpha): deflate keeps the alpha channel.
  return new Uint8Array(
    await (format === "tiff" ? img.tiff({ compression: "deflate" }) : img.toFormat(format)).toBuffer(),
  );
}
