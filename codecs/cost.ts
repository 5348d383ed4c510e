import type { OutputFormat, TransformSpec } from "./types.ts";

// What one transform costs a worker, in units of about one megapixel decoded, resized and
// written as JPEG (the cheapest whole job). The weights were measured with the codec pool on
// a 1920×1080 JPEG scaled to 2000 and 4000 px: WebP at effort 2 takes about three times what
// JPEG does, AVIF at effort 3 about six, a Gaussian blur adds about 0.04 per unit of sigma, an
// unsharp mask about 0.1 per unit. Every step runs once per frame of an animation.

const ENCODE: Record<OutputFormat, (effort: number) => number> = {
  jpeg: () => 0,
  tiff: () => 0,
  png: () => 1,
  gif: () => 2,
  jxl: () => 2,
  webp: (effort) => 1 + effort / 2,
  avif: (effort) => 2 + effort,
};

export interface CostEfforts {
  avif: number;
  webp: number;
}

/**
 * The cost of `spec` on a source of `sourcePixels` (the part read) giving `outputPixels` per
 * frame, for `frames` frames.
 */
export function transformCost(
  spec: TransformSpec,
  sourcePixels: number,
  outputPixels: number,
  frames: number,
  effort: CostEfforts,
): number {
  // Per output pixel: resampling, then each step that visits every pixel again.
  let perPixel =
    1 + ENCODE[spec.format](spec.format === "avif" ? effort.avif : spec.format === "webp" ? effort.webp : 0);
  if (spec.blur) perPixel += 0.04 * spec.blur;
  if (spec.sharpen) perPixel += 0.5 + 0.1 * spec.sharpen;
  if (spec.rotate && spec.rotate.angle % 90 !== 0) perPixel += 1;
  if (spec.watermark) perPixel += 1 + (spec.watermark.shadow ? 0.04 * spec.watermark.shadow.blur : 0);
  if (spec.normalize) perPixel += 1;
  if (spec.gradient) perPixel += 0.5;
  for (const step of [spec.modulate, spec.contrast, spec.monochrome, spec.duotone, spec.colorize, spec.negate])
    if (step) perPixel += 0.25;
  // Choosing the quality encodes a few times (codecs/steps/quality.ts).
  if (spec.autoQuality) perPixel *= 3;
  // Decoding reads the source (JPEG and WebP shrink on load, so this is an upper bound);
  // smart crop looks at all of it.
  const perSource = 0.25 + (spec.smartCrop ? 1 : 0);
  return (frames * (sourcePixels * perSource + outputPixels * perPixel)) / 1_000_000;
}
