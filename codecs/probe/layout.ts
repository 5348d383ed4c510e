// Frames and alpha from the structure of a whole file, without decoding pixels: what the
// library stores of an image besides its size.

import type { InputFormat } from "../types.ts";
import { bmpHasAlpha } from "./bmp.ts";
import { Bytes } from "./bytes.ts";
import { gifLayout } from "./gif.ts";
import { heifHasAlpha } from "./heif.ts";
import { pngLayout } from "./png.ts";
import { tiffHasExtraSamples } from "./tiff.ts";
import type { Layout } from "./result.ts";
import { webpLayout } from "./webp.ts";

export type { Layout } from "./result.ts";

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
    case "png":
      return pngLayout(r);
    case "bmp":
      return still(bmpHasAlpha(r));
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
    case "heic":
      return still(heifHasAlpha(bytes));
    default:
      return still(false);
  }
}
