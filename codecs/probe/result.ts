// What the format readers return: a ProbeResult (format, MIME type, stored size), or null when
// the size read is not a positive finite number; a Layout; and what the completeness checks share.

import type { InputFormat, ProbeResult } from "../types.ts";

export const MIME: Record<InputFormat, string> = {
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
  avif: "image/avif",
  heic: "image/heic",
  tiff: "image/tiff",
  bmp: "image/bmp",
  ico: "image/x-icon",
  svg: "image/svg+xml",
  jxl: "image/jxl",
  tga: "image/x-tga",
  qoi: "image/qoi",
  pnm: "image/x-portable-anymap",
  hdr: "image/vnd.radiance",
};

export function result(format: InputFormat, width: number, height: number, mime = MIME[format]): ProbeResult | null {
  if (!(width > 0 && height > 0) || !Number.isFinite(width) || !Number.isFinite(height)) return null;
  return { format, mime, width, height };
}

/** What the header says about frames and transparency (see `probeLayout`). */
export interface Layout {
  /** Frames (animation frames, or pages an animated PNG declares); 1 for a still image. */
  frames: number;
  /** Whether the file declares an alpha channel or a transparent colour. */
  hasAlpha: boolean;
}

/** How much trailing padding after the end marker is tolerated (some writers pad). */
export const TRAILER_SLACK = 4096;
