// What a decoder of our own hands to wasm-vips: 8-bit samples, row after row, top row first.
// Plain data (no wasm handle), so a decoder needs nothing but its input bytes.

import { CodecError } from "../types.ts";

export interface RawImage {
  width: number;
  height: number;
  /** 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA. */
  bands: 1 | 2 | 3 | 4;
  data: Uint8Array;
  /** EXIF orientation (1–8) still to apply; 1 when the decoder already made the pixels upright. */
  orientation?: number;
}

/** A decode failure that is the input's fault: it becomes a 4xx. */
export function bad(format: string, why: string): CodecError {
  return new CodecError("invalid_image", `${format}: ${why}`);
}

/** Refuses a size before a buffer of that size is allocated. */
export function checkSize(format: string, width: number, height: number, maxPixels: number | undefined): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0))
    throw bad(format, `invalid size ${width}×${height}`);
  if (maxPixels !== undefined && width * height > maxPixels) {
    throw new CodecError("too_large", `source is ${width}×${height}, over the limit of ${maxPixels} pixels`);
  }
}

/** RGBA whose alpha is 255 everywhere becomes RGB: the image then reports no alpha, as it has none. */
export function dropOpaqueAlpha(raw: RawImage): RawImage {
  if (raw.bands !== 4) return raw;
  const d = raw.data;
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 255) return raw;
  const rgb = new Uint8Array((d.length / 4) * 3);
  for (let i = 0, o = 0; i < d.length; i += 4, o += 3) {
    rgb[o] = d[i]!;
    rgb[o + 1] = d[i + 1]!;
    rgb[o + 2] = d[i + 2]!;
  }
  return { ...raw, bands: 3, data: rgb };
}
