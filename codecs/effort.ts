// Encoder effort (speed against size) for lossy AVIF and WebP; README "Encoder effort" has the
// measured table these defaults were chosen from. IMGD_AVIF_EFFORT / IMGD_WEBP_EFFORT override.

export interface Effort {
  /** libheif/aom effort 0–9 as wasm-vips' heifsave takes it. */
  avif: number;
  /** libwebp `method` 0–6. */
  webp: number;
}

export const AVIF_EFFORT = 3;
export const WEBP_EFFORT = 4;
export const DEFAULT_EFFORT: Effort = { avif: AVIF_EFFORT, webp: WEBP_EFFORT };
