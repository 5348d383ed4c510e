import { createHash } from "node:crypto";
import { plan } from "../../../codecs/geometry.ts";
import { avifTooLarge, type OutputFormat, type TransformSpec } from "../../../codecs/types.ts";
import type { Image } from "../../db/schema.ts";
import { AppError } from "../errors.ts";

// The canonical transform spec is what every URL dialect parses into: equal requests give equal
// specs, so they share one cache key and one pipeline run.

/** URL extensions that ask for an output format. */
export const EXT_FORMAT: Record<string, OutputFormat> = {
  webp: "webp",
  avif: "avif",
  jpg: "jpeg",
  jpeg: "jpeg",
  png: "png",
  jxl: "jxl",
  gif: "gif",
  tif: "tiff",
  tiff: "tiff",
};

/** Image extensions imgd reads but cannot write, by the input format they name. */
const READ_ONLY_EXT: Record<string, string> = {
  bmp: "bmp",
  ico: "ico",
  heic: "heic",
  heif: "heic",
  svg: "svg",
  tga: "tga",
  qoi: "qoi",
  pnm: "pnm",
  ppm: "pnm",
  pgm: "pnm",
  pbm: "pnm",
  pam: "pnm",
  pfm: "pnm",
  hdr: "hdr",
  exr: "exr",
};

/**
 * A URL extension that names an image format imgd cannot write (`.bmp`, `.heic`, `.svg`, …) is a
 * 400, unless it names the image's own format (its own name serves the stored bytes).
 */
export function checkWritableExtension(ext: string | null, sourceFormat: string): void {
  const named = ext ? READ_ONLY_EXT[ext] : undefined;
  if (!named || named === sourceFormat) return;
  throw new AppError(
    "VALIDATION_ERROR",
    `.${ext}: imgd cannot write this format; ask for .webp, .avif, .jpg, .png, .jxl, .gif or .tiff`,
    { field: "extension" },
  );
}

/** Source formats a browser shows as they are; others are converted when asked for by their own name. */
export const WEB_FORMATS = new Set(["jpeg", "png", "webp", "gif", "avif"]);

const LOSSLESS: ReadonlySet<OutputFormat> = new Set(["png", "gif", "tiff"]);

export interface Source {
  width: number;
  height: number;
  format: string;
}

/**
 * The output size a spec gives for a source, without running it: the fitted size, then what
 * rotation and the edge-adding steps (extend, aspect ratio, padding) make of it, in the
 * pipeline's order.
 */
export function outputSize(spec: TransformSpec, src: Source): { width: number; height: number } {
  const w = spec.crop?.width ?? src.width;
  const h = spec.crop?.height ?? src.height;
  const p = plan(w, h, spec);
  let { width, height } = p.box ?? p.resize;
  if (spec.rotate && spec.rotate.angle % 90 === 0) {
    if (spec.rotate.angle % 180 !== 0) [width, height] = [height, width];
  } else if (spec.rotate) {
    const a = (spec.rotate.angle * Math.PI) / 180;
    const [c, s] = [Math.abs(Math.cos(a)), Math.abs(Math.sin(a))];
    [width, height] = [Math.ceil(width * c + height * s), Math.ceil(width * s + height * c)];
  }
  if (spec.extend) {
    width += spec.extend.left + spec.extend.right;
    height += spec.extend.top + spec.extend.bottom;
  }
  const r = spec.extendAspectRatio;
  if (r) [width, height] = [Math.max(width, Math.round(height * r)), Math.max(height, Math.round(width / r))];
  if (spec.padding) {
    width += spec.padding[1] + spec.padding[3];
    height += spec.padding[0] + spec.padding[2];
  }
  return { width, height };
}

/**
 * Settles what the pipeline would otherwise decide per run: AVIF fallback, quality that a
 * lossless format ignores, the output pixel limit. The result is the cache identity.
 */
export function finalize(spec: TransformSpec, src: Source, maxOutputPixels: number): TransformSpec {
  const out = outputSize(spec, src);
  if (out.width * out.height > maxOutputPixels) {
    throw new AppError(
      "VALIDATION_ERROR",
      `The requested output (${out.width}×${out.height}) is over the limit of ${maxOutputPixels} pixels`,
    );
  }
  let format = spec.format;
  if (format === "avif" && avifTooLarge(out.width, out.height)) format = "webp";
  const lossless = LOSSLESS.has(format);
  const done = canonicalSpec({ ...spec, format, quality: lossless ? 100 : spec.quality });
  if (lossless) delete done.autoQuality;
  return done;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

/**
 * Drops what changes nothing and rounds fractions, so that requests meaning the same thing in
 * any dialect (`blur=2` and `blur=2.0001`, `rotate=360` and none) make one spec and one variant.
 * Every dialect's parser may set a field loosely; this is the one place that settles it.
 */
export function canonicalSpec(spec: TransformSpec): TransformSpec {
  const s: TransformSpec = { ...spec };
  const mod = s.modulate;
  if (mod) {
    const m: NonNullable<TransformSpec["modulate"]> = {};
    for (const k of ["brightness", "saturation", "lightness"] as const)
      if (mod[k] !== undefined && round3(mod[k]) !== 1) m[k] = round3(mod[k]);
    const hue = mod.hue === undefined ? 0 : round3(((mod.hue % 360) + 360) % 360);
    if (hue !== 0) m.hue = hue;
    s.modulate = Object.keys(m).length ? m : undefined;
  }
  if (s.rotate) {
    const angle = round3(((s.rotate.angle % 360) + 360) % 360);
    // Right angles uncover no corners: their background is irrelevant.
    s.rotate = angle === 0 ? undefined : angle % 90 === 0 ? { angle } : { ...s.rotate, angle };
  }
  for (const k of ["blur", "sharpen"] as const) if (s[k] !== undefined) s[k] = s[k] ? round3(s[k]) : undefined;
  if (s.contrast) {
    const multiplier = round3(s.contrast.multiplier);
    s.contrast = multiplier === 1 ? undefined : { multiplier, pivot: round3(s.contrast.pivot) };
  }
  if (s.focus) s.focus = [round3(s.focus[0]), round3(s.focus[1])];
  if (s.offset && s.offset[0] === 0 && s.offset[1] === 0) s.offset = undefined;
  if (s.extendAspectRatio !== undefined) s.extendAspectRatio = round3(s.extendAspectRatio);
  if (s.extend && !s.extend.top && !s.extend.right && !s.extend.bottom && !s.extend.left) s.extend = undefined;
  if (s.padding?.every((p) => p === 0)) s.padding = undefined;
  if (s.kernel === "lanczos3") s.kernel = undefined;
  if (s.pixelate !== undefined && s.pixelate < 2) s.pixelate = undefined;
  if (s.watermark) {
    const w = { ...s.watermark, opacity: round3(s.watermark.opacity) };
    if (w.scale !== undefined) w.scale = round3(w.scale);
    if (w.rotate) {
      const angle = round3(((w.rotate.angle % 360) + 360) % 360);
      w.rotate = angle === 0 ? undefined : angle % 90 === 0 ? { angle } : { ...w.rotate, angle };
    }
    s.watermark = w;
  }
  for (const k of Object.keys(s) as (keyof TransformSpec)[]) if (s[k] === undefined) delete s[k];
  return s;
}

/** JSON with sorted keys and no undefined members: a stable text for hashing. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Identifies a variant: which bytes, transformed how, after how many purges of its image (a
 * purge makes new keys, so nothing made before it is found again). Also its strong ETag.
 */
export function variantKey(blobHash: string, spec: TransformSpec, generation = 0): string {
  // Generation 0 adds nothing: keys made before purges existed stay valid.
  const purged = generation > 0 ? `\n#${generation}` : "";
  return createHash("sha256")
    .update(`${blobHash}\n${canonicalJson(spec)}${purged}`)
    .digest("hex");
}

/** The original's ETag: its bytes, and how many times its image was purged. */
export function originalEtag(image: Pick<Image, "blob_hash" | "generation">): string {
  return image.generation > 0 ? `"${image.blob_hash}-${image.generation}"` : `"${image.blob_hash}"`;
}
