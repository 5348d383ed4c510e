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

  // Everything below is optional and absent when it would change nothing, so that the key of
  // a plain resize stays what it was. Steps run in the order of the lists in codecs/pipeline.ts.

  /**
   * Where `cover` (and a `crop` with `smart`) cuts: a focal point in fractions 0–1 of the
   * source, which the cut is centred on as far as the edges allow. Overrides `gravity`.
   */
  focus?: [x: number, y: number];
  /** Shifts the cut `gravity` places by this many output pixels (right, down); clamped to the image. */
  offset?: [x: number, y: number];
  /** libvips smartcrop picks `crop`'s left/top (which are then 0) inside the source. */
  smartCrop?: "attention" | "entropy";
  /** Output at least this large (after fit): scaled up if short, whatever `enlarge` says. */
  minWidth?: number;
  minHeight?: number;
  /** Resampling kernel; absent = lanczos3. */
  kernel?: ResizeKernel;
  /** Mirror, after resizing. */
  flip?: "horizontal" | "vertical" | "both";
  /** Clockwise degrees in (0, 360), after resizing; the corners a free angle uncovers get `background` (RGBA). */
  rotate?: { angle: number; background?: Rgba };
  /** Gaussian blur sigma (0.3–100). */
  blur?: number;
  /** Unsharp mask sigma (libvips sharpen). */
  sharpen?: number;
  /** Block size of a pixelation (2–256). */
  pixelate?: number;
  /** Multipliers in LCh (1 = unchanged) and a hue rotation in degrees. */
  modulate?: { brightness?: number; saturation?: number; lightness?: number; hue?: number };
  /** `out = (in − pivot) × multiplier + pivot`, per channel, pivot in 0–255. */
  contrast?: { multiplier: number; pivot: number };
  /** Stretch the luminance so these percentiles become black and white. */
  normalize?: { lower: number; upper: number };
  /** Greyscale; with a colour, shades of that colour (black → colour → white). */
  monochrome?: true | Rgb;
  /** Luminance mapped from the shadow colour to the highlight colour. */
  duotone?: { shadow: Rgb; highlight: Rgb };
  /** A colour laid over the image, its alpha (0–255) the strength. */
  colorize?: Rgba;
  /** Invert the colours, and the alpha too when `alpha`. */
  negate?: { alpha: boolean };
  /** A linear gradient over the image (angle in degrees, 0 = top to bottom). */
  gradient?: { colors: Rgba[]; angle: number; opacity: number; blend: BlendMode };
  /** Edges added after the effects, in output pixels, filled with `background` or white. */
  extend?: { top: number; right: number; bottom: number; left: number; background?: Rgba };
  /** Edges added (around, by `gravity`) until width ÷ height is this ratio. */
  extendAspectRatio?: number;
  /** Another image or text drawn over the output. */
  watermark?: WatermarkSpec;
  /** Edges added last, around everything, filled with `background` or white: [top, right, bottom, left]. */
  padding?: [number, number, number, number];
  /** Resolution written into the file's header (pixels per inch). */
  dpi?: number;
  /** JPEG/AVIF chroma: "4:4:4" keeps full colour resolution; absent = the encoder's choice. */
  chromaSubsampling?: "4:4:4" | "4:2:2";
  /** Interlaced JPEG/PNG/GIF (true) or baseline (false); absent = the encoder's default (baseline). */
  progressive?: boolean;
  /**
   * The output's colour: absent = sRGB (tagged when the source was); `rgb16` 16-bit sRGB where
   * the format holds it (PNG, TIFF, AVIF); `cmyk` CMYK (JPEG, TIFF); `keep` back into the
   * source's own profile, embedded.
   */
  colorProfile?: "rgb16" | "cmyk" | "keep";
  /** Leave no ICC profile in the output, even the compact sRGB one. */
  stripColorProfile?: true;
  /** When metadata is stripped, still keep the EXIF copyright and artist. */
  keepCopyright?: true;
  /**
   * Quality chosen per image: the lowest quality whose output stays at or above this SSIM
   * against the unencoded pixels (codecs/steps/quality.ts); `quality` is then the ceiling.
   */
  autoQuality?: { ssim: number };
}

export type Rgb = [number, number, number];
/** RGBA 0–255. */
export type Rgba = [number, number, number, number];

export type ResizeKernel = "nearest" | "linear" | "cubic" | "mitchell" | "lanczos2" | "lanczos3";

export type BlendMode = "over" | "multiply" | "screen" | "overlay" | "soft-light" | "hard-light" | "darken" | "lighten";

/**
 * A watermark. Its pixels are not in the spec: an image watermark travels beside it
 * (`TransformInput.watermark`), identified here by the sha256 of its bytes, so the variant key
 * changes with them; a text watermark is rendered in the worker with the embedded font.
 */
export interface WatermarkSpec {
  /** sha256 (hex) of the watermark image's bytes. Exactly one of `image` and `text`. */
  image?: string;
  text?: string;
  /** Text colour (RGBA) and height in output pixels (absent: a tenth of the output's height). */
  textColor?: Rgba;
  textSize?: number;
  /** Placement: compass gravity (not attention/entropy), then shifted right/down by x/y pixels. */
  gravity: Gravity;
  x: number;
  y: number;
  /** 0–1 */
  opacity: number;
  blend: BlendMode;
  /** Box the watermark is fitted into (pixels), or `scale` as a fraction of the output's width. */
  width?: number;
  height?: number;
  scale?: number;
  rotate?: { angle: number; background?: Rgba };
  shadow?: { color: Rgba; blur: number; x: number; y: number };
}

/** The bytes a transform needs besides the source and the spec. */
export interface TransformInput {
  /** The encoded watermark image whose hash is `spec.watermark.image`. */
  watermark?: Uint8Array;
}

export interface TransformResult {
  data: Uint8Array;
  format: OutputFormat;
  mime: string;
  width: number;
  height: number;
  /** Frames of an animated output; absent for a still one. */
  frames?: number;
  /** The quality `autoQuality` chose; absent otherwise. */
  quality?: number;
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
