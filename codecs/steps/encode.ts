// encode: the output file, at the spec's quality or at the one quality=auto settles on; and
// for a kept animation, the frames as one animated GIF or WebP.

import { avifTooLarge } from "../types.ts";
import type { VipsImage } from "../wasm.ts";
import { encodeAnimatedWebp, encodeWebp } from "../webp.ts";
import { chooseQuality } from "./quality.ts";
import type { State, Step } from "./state.ts";

/** spec.quality as the encoders take it: a whole number in 1–100. */
function qualityOf(s: State): number {
  return Math.min(100, Math.max(1, Math.round(s.spec.quality)));
}

export const encode: Step = {
  name: "encode",
  run(s) {
    const img = s.image;
    if (s.format === "avif" && avifTooLarge(img.width, img.height)) {
      s.format = "webp";
    }
    const q = qualityOf(s);
    const auto = s.spec.autoQuality;
    if (auto && (s.format === "jpeg" || s.format === "webp" || s.format === "avif")) {
      // Each try encodes and compares the same pixels again.
      s.materialize();
      const img = s.image;
      const chosen = chooseQuality(s.vips, img, (qq) => encodeAt(s, img, qq), auto.ssim, q);
      s.output = chosen.data;
      s.quality = chosen.quality;
      return;
    }
    s.output = encodeAt(s, img, q);
  },
};

function encodeAt(s: State, img: VipsImage, q: number): Uint8Array {
  const keep = s.keep;
  const spec = s.spec;
  const interlace = spec.progressive === true;
  // libvips writes 4:4:4 ("off") or 4:2:0 ("on"); it has no 4:2:2, so that request subsamples.
  const subsample_mode = spec.chromaSubsampling === "4:4:4" ? "off" : spec.chromaSubsampling ? "on" : "auto";
  switch (s.format) {
    case "webp":
      // Not vips' webpsave: see wasm.ts (Bun's wasm JIT miscompiles libwebp's SIMD paths).
      return encodeWebp(img, s.codecs.webp, q, keep, s.effort.webp);
    case "avif":
      return img.writeToBuffer(".avif", { Q: q, effort: s.effort.avif, bitdepth: 8, keep, subsample_mode });
    case "jpeg":
      return img.writeToBuffer(".jpg", { Q: q, optimize_coding: true, keep, interlace, subsample_mode });
    case "png":
      return img.writeToBuffer(".png", { compression: 6, keep, interlace });
    case "jxl":
      return img.writeToBuffer(".jxl", { Q: q, effort: 4, keep });
    case "gif":
      return img.writeToBuffer(".gif", { keep, interlace });
    case "tiff":
      // Lossless, as TIFF is used for (Imgwire's format=tiff): deflate with the predictor.
      return img.writeToBuffer(".tif", { compression: "deflate", predictor: "horizontal", keep });
  }
}

/**
 * The frames of a kept animation (one size, one band layout) as one animated file with the
 * source's delays and loop count: WebP through our muxer, GIF through libvips.
 */
export function encodeAnimation(s: State, frames: VipsImage[]): Uint8Array {
  const { delays, loop } = s.animation!;
  const { width, height } = frames[0]!;
  if (s.format === "webp") {
    const q = qualityOf(s);
    return encodeAnimatedWebp(
      frames.map((fr) => encodeWebp(fr, s.codecs.webp, q, "none")),
      width,
      height,
      delays,
      loop,
    );
  }
  const stacked = s.vips.Image.arrayjoin(frames, { across: 1 });
  try {
    const out = stacked.copy();
    out.setInt("page-height", height);
    out.setArrayInt("delay", delays);
    out.setInt("loop", loop);
    const data = out.writeToBuffer(".gif", { keep: "none" });
    out.delete();
    return data;
  } finally {
    stacked.delete();
  }
}
