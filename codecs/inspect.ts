// inspect: the upload's full decode, as validation, and what the library stores of an image:
// format, upright size, alpha, frames, dominant colour and a ThumbHash placeholder.

import type { Prepared } from "./decoders/index.ts";
import { toSrgb } from "./steps/helpers.ts";
import { checkFrames, checkPixels, LOADERS, open, orientationOf, pagesOf } from "./steps/source.ts";
import type { Limits } from "./steps/state.ts";
import { thumbHashOf } from "./thumbhash.ts";
import { CodecError, type InspectResult } from "./types.ts";
import type { Vips, VipsImage } from "./wasm.ts";

const DOMINANT_SIZE = 64;

/**
 * Decodes every pixel (a truncated or corrupt file fails here, not later at delivery) while
 * shrinking to a tiny thumbnail, whose histogram gives the dominant colour.
 */
export function inspect(vips: Vips, source: Prepared, limits: Limits = {}): InspectResult {
  const owned: VipsImage[] = [];
  const keep = (i: VipsImage) => (owned.push(i), i);
  try {
    const opened = open(vips, source);
    const head = keep(opened.image);
    const loader = opened.loader;
    let format = loader === "decoded" ? source.format : LOADERS[loader];
    if (!format) throw new CodecError("invalid_image", `unsupported format (${loader})`);
    // An ICO's PNG entry is loaded by pngload but is still an ICO.
    if (source.format === "ico") format = "ico";
    if (format === "heic" && head.getTypeof("heif-compression") && head.getString("heif-compression") === "av1")
      format = "avif";
    const orientation = orientationOf(head);
    const width = orientation >= 5 ? head.height : head.width;
    const height = orientation >= 5 ? head.width : head.height;
    const pages = pagesOf(head);
    checkFrames(pages, limits);
    checkPixels(width, height, limits, pages);
    const hasAlpha = head.hasAlpha();
    const thumb = keep(head.thumbnailImage(DOMINANT_SIZE, { height: DOMINANT_SIZE, no_rotate: true }));
    const { image: rgb } = toSrgb(thumb, vips);
    if (rgb !== thumb) keep(rgb);
    // Rendered once (the source reads sequentially): the colour and the preview both read it.
    const small = keep(rgb.copyMemory());
    // The thumbnail kept the stored orientation (a colour does not care); a preview does.
    let upright = small;
    if (orientation !== 1) {
      const tagged = keep(small.copy());
      tagged.setInt("orientation", orientation);
      upright = keep(tagged.autorot());
    }
    const thumbhash = thumbHashOf(upright.writeToMemory() as Uint8Array, upright.width, upright.height, upright.bands);
    return { format, width, height, hasAlpha, pages, dominantColor: dominant(small), thumbhash };
  } finally {
    for (const i of owned) i.delete();
  }
}

/** Most common colour in a 16-level-per-channel histogram, averaged within its bin. */
function dominant(image: VipsImage): string {
  const px = image.writeToMemory() as Uint8Array;
  const bands = image.bands;
  const hasAlpha = bands === 4 || bands === 2;
  const count = new Float64Array(4096);
  const sum = new Float64Array(4096 * 3);
  for (let i = 0; i + bands <= px.length; i += bands) {
    const r = px[i]!;
    const g = bands >= 3 ? px[i + 1]! : r;
    const b = bands >= 3 ? px[i + 2]! : r;
    // Transparent pixels have no colour worth counting.
    const w = hasAlpha ? px[i + bands - 1]! / 255 : 1;
    if (w === 0) continue;
    const bin = ((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4);
    count[bin]! += w;
    sum[bin * 3]! += r * w;
    sum[bin * 3 + 1]! += g * w;
    sum[bin * 3 + 2]! += b * w;
  }
  let best = 0;
  for (let i = 1; i < 4096; i++) if (count[i]! > count[best]!) best = i;
  if (count[best] === 0) return "000000";
  const hex = (v: number) =>
    Math.round(v / count[best]!)
      .toString(16)
      .padStart(2, "0");
  return hex(sum[best * 3]!) + hex(sum[best * 3 + 1]!) + hex(sum[best * 3 + 2]!);
}
