// Formats libvips cannot read (in this wasm build) are decoded here, in the worker, to 8-bit
// pixels that enter the normal pipeline; everything else goes to libvips as bytes. Which is
// which is decided from the probed format, so a file is never tried by two decoders.

import type { InputFormat } from "../types.ts";
import { decodeBmp } from "./bmp.ts";
import type { HeifDecoder } from "./heic.ts";
import { decodeIco } from "./ico.ts";
import { decodePam } from "./pam.ts";
import { decodeQoi } from "./qoi.ts";
import { dropOpaqueAlpha, type RawImage } from "./raw.ts";
import { decodeTga } from "./tga.ts";

export type { RawImage } from "./raw.ts";

/** What the pipeline loads: encoded bytes for libvips, or pixels a decoder of ours made. */
export type Prepared =
  | { bytes: Uint8Array; raw?: undefined; format: InputFormat }
  | { raw: RawImage; bytes?: undefined; format: InputFormat };

export interface ForeignDecoders {
  /** libheif, loaded on first use (most workers never see a HEIC). */
  heif(): Promise<HeifDecoder>;
}

const isPam = (b: Uint8Array) => b[0] === 0x50 && b[1] === 0x37;

export async function prepare(
  format: InputFormat,
  bytes: Uint8Array,
  decoders: ForeignDecoders,
  maxPixels?: number,
): Promise<Prepared> {
  const p = await decode(format, bytes, decoders, maxPixels);
  return p.raw ? { format, raw: dropOpaqueAlpha(p.raw) } : p;
}

async function decode(
  format: InputFormat,
  bytes: Uint8Array,
  decoders: ForeignDecoders,
  maxPixels?: number,
): Promise<Prepared> {
  switch (format) {
    case "bmp":
      return { format, raw: decodeBmp(bytes, maxPixels) };
    case "ico": {
      const entry = decodeIco(bytes, maxPixels);
      return entry.kind === "png" ? { format, bytes: entry.bytes } : { format, raw: entry.image };
    }
    case "tga":
      return { format, raw: await decodeTga(bytes, maxPixels) };
    case "qoi":
      return { format, raw: decodeQoi(bytes, maxPixels) };
    case "pnm":
      return isPam(bytes) ? { format, raw: decodePam(bytes, maxPixels) } : { format, bytes };
    case "heic":
      return { format, raw: await (await decoders.heif())(bytes, maxPixels) };
    default:
      return { format, bytes };
  }
}
