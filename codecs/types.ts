// The contract between the server and the codec core. Everything here is plain data so it
// can cross a worker boundary with structured clone; nothing here knows of HTTP or SQL.

export type InputFormat =
  | "jpeg"
  | "png"
  | "webp"
  | "gif"
  | "avif"
  | "heic"
  | "tiff"
  | "bmp"
  | "ico"
  | "svg"
  | "jxl"
  | "tga"
  | "qoi"
  | "pnm"
  | "hdr";

export type OutputFormat = "webp" | "avif" | "jpeg" | "png" | "jxl" | "gif" | "tiff";

export const OUTPUT_MIME: Record<OutputFormat, string> = {
  webp: "image/webp",
  avif: "image/avif",
  jpeg: "image/jpeg",
  png: "image/png",
  jxl: "image/jxl",
  gif: "image/gif",
  tiff: "image/tiff",
};

/** AVIF encoding in wasm is slow; past this size (the reference's limits) WebP is sent instead. */
export const avifTooLarge = (width: number, height: number) =>
  width * height > 8_000_000 || Math.max(width, height) > 4000;

/** How the image is fitted into width × height (the names of sharp and Imgwire). */
export type Fit =
  | "cover" // fill the box exactly, cropping the overflow (gravity picks what stays)
  | "contain" // fit inside the box, pad the rest with `background`
  | "fill" // stretch to the box, aspect ratio ignored
  | "inside" // fit inside the box, output may be smaller on one axis
  | "outside"; // cover the box, output may be larger on one axis, no crop

export type Gravity =
  | "centre"
  | "north"
  | "south"
  | "east"
  | "west"
  | "northeast"
  | "northwest"
  | "southeast"
  | "southwest"
  | "attention"
  | "entropy";

/**
 * The canonical transform: every URL dialect parses into this, and the variant cache key is
 * derived from it, so it must hold only resolved values (no aliases, no defaults left open).
 */
export interface TransformSpec {
  /** Target box; a missing side follows the aspect ratio. Already multiplied by dpr. */
  width?: number;
  height?: number;
  fit: Fit;
  /** Whether the output may be larger than the (auto-rotated) source. */
  enlarge: boolean;
  gravity: Gravity;
  /** A region of the auto-rotated source cut before resizing, in source pixels. */
  crop?: { left: number; top: number; width: number; height: number };
  format: OutputFormat;
  /** 1–100 */
  quality: number;
  /** RGBA 0–255, used by `contain` padding and when flattening alpha for JPEG. */
  background?: [number, number, number, number];
  /** Keep EXIF/XMP/IPTC; the colour profile is handled by `colour` regardless. */
  keepMetadata: boolean;
  /**
   * One frame (from 0) of an animated source, for a still output. Unset: an animation stays
   * animated where the output can animate (GIF, WebP), else its first frame is taken.
   */
  frame?: number;
}

export interface TransformResult {
  data: Uint8Array;
  format: OutputFormat;
  mime: string;
  width: number;
  height: number;
  /** Frames of an animated output; absent for a still one. */
  frames?: number;
}

export interface InspectResult {
  format: InputFormat;
  /** Upright dimensions (EXIF orientation applied). */
  width: number;
  height: number;
  hasAlpha: boolean;
  pages: number;
  /** Six lowercase hex digits, no '#'. */
  dominantColor: string;
  /** Base64 ThumbHash of a ≤64 px thumbnail: the blurred placeholder clients draw while loading. */
  thumbhash: string;
}

/** What the header says, read without decoding pixels. */
export interface ProbeResult {
  format: InputFormat;
  mime: string;
  /** Stored dimensions as in the header (before any EXIF orientation). */
  width: number;
  height: number;
}

export type CodecErrorCode =
  | "queue_full" // the pool's queue is at its limit: try again later
  | "timeout" // the job ran past its deadline
  | "invalid_image" // the bytes could not be decoded
  | "too_large" // over a pixel or frame limit
  | "worker_crashed" // the worker died while running this job
  | "closed"; // the pool is shut down

export class CodecError extends Error {
  constructor(
    readonly code: CodecErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "CodecError";
  }
}
