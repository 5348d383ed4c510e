// Encoder effort defaults (speed against size); see README "Encoder effort" for the table
// they were chosen from. The server passes IMGD_AVIF_EFFORT / IMGD_WEBP_EFFORT over them.

/** libheif/aom effort 0–9 as wasm-vips' heifsave takes it. */
export const AVIF_EFFORT = 4;
/** libwebp `method` 0–6. */
export const WEBP_EFFORT = 4;
