// Encoder effort (speed against size) for lossy AVIF and WebP; README "Encoder effort" has the
// measured table these defaults were chosen from. IMGD_AVIF_EFFORT / IMGD_WEBP_EFFORT override.

export interface Effort {
  /** libheif/aom effort 0–9 as wasm-vips' heifsave takes it. */
  avif: number;
  /** libwebp `method` 0–6. */
  webp: number;
}

/** 1 % larger than effort 4 at about a fifth of its CPU; 4 misses 1.5 s per 800 px image. */
export const AVIF_EFFORT = 3;
/** 3.7 % larger than method 4 (sharp's default) at a bit over half its CPU. */
export const WEBP_EFFORT = 2;
export const DEFAULT_EFFORT: Effort = { avif: AVIF_EFFORT, webp: WEBP_EFFORT };
