// The transform as one list of named steps over an image, in the manner of imgproxy's
// processing pipeline. Each step reads and replaces `state.image`; `State.replace` frees the
// previous handle, because wasm-vips objects live in wasm memory and the JS garbage
// collector never frees them.
//
// Order: load (with shrink-on-load) → orient → crop → srgb → resize → pad → flatten →
// metadata → encode. Colour conversion runs before resizing (rather than after flattening)
// so that every later step sees 8-bit sRGB and the background colours of pad and flatten
// mean the same thing for every source; it still runs after shrink-on-load and crop, so it
// touches at most about four times the output's pixels.

import type { Prepared, RawImage } from "./decoders/index.ts";
import { DEFAULT_EFFORT, type Effort } from "./effort.ts";
import { transformCost } from "./cost.ts";
import { type Plan, plan, shrinkOnLoad } from "./geometry.ts";
import { thumbHashOf } from "./thumbhash.ts";
import {
  avifTooLarge,
  CodecError,
  type InputFormat,
  type InspectResult,
  OUTPUT_MIME,
  type OutputFormat,
  type TransformInput,
  type TransformResult,
  type TransformSpec,
} from "./types.ts";
import type { Vips, VipsImage } from "./wasm.ts";
import { extend, extendAspectRatio, padding } from "./steps/canvas.ts";
import { EFFECT_STEPS } from "./steps/effects.ts";
import { anchor, backgroundFor, COMPASS, toSrgb } from "./steps/helpers.ts";
import { chooseQuality } from "./steps/quality.ts";
import { watermark } from "./steps/watermark.ts";
import { type Codecs, type Limits, type Rect, State, type Step } from "./steps/state.ts";

export type { Codecs, Limits } from "./steps/state.ts";
import { encodeAnimatedWebp, encodeWebp } from "./webp.ts";

/** Output formats that keep an animated source animated. */
const ANIMATED_OUTPUT: ReadonlySet<OutputFormat> = new Set(["gif", "webp"]);

/** Frame delay when the source has none, in ms (browsers' own default for GIF is about this). */
const DEFAULT_DELAY = 100;

/** Loaders we accept; every other libvips loader is blocked (see `restrictLoaders`). */
const LOADERS: Record<string, InputFormat> = {
  jpegload: "jpeg",
  pngload: "png",
  webpload: "webp",
  gifload: "gif",
  heifload: "heic", // refined to avif by the heif-compression field
  tiffload: "tiff",
  svgload: "svg",
  jxlload: "jxl",
  ppmload: "pnm",
  radload: "hdr",
};
const LOADER_CLASSES = ["Jpeg", "Png", "Webp", "Nsgif", "Heif", "Tiff", "Svg", "Jxl", "Ppm", "Rad"];

/** Blocks all libvips loaders except those for the formats imgd accepts (less attack surface). */
export function restrictLoaders(vips: Vips): void {
  vips.operationBlock("VipsForeignLoad", true);
  for (const c of LOADER_CLASSES) vips.operationBlock(`VipsForeignLoad${c}`, false);
}

const WHITE: [number, number, number, number] = [255, 255, 255, 255];

// ------------------------------------------------------------------------------------ helpers

function orientationOf(image: VipsImage): number {
  if (!image.getTypeof("orientation")) return 1;
  const o = image.getInt("orientation");
  return o >= 1 && o <= 8 ? o : 1;
}

function loaderName(image: VipsImage): string {
  return image.getString("vips-loader").replace(/_(buffer|source|file)$/, "");
}

function checkFrames(frames: number, limits: Limits): void {
  if (limits.maxAnimationFrames !== undefined && frames > limits.maxAnimationFrames) {
    throw new CodecError("too_large", `source has ${frames} frames, over the limit of ${limits.maxAnimationFrames}`);
  }
}

/**
 * An animation's transform cost counts every frame, which only the decoder knows (the server
 * checked one frame's before sending the job).
 */
function checkCost(spec: TransformSpec, region: Rect, p: Plan, frames: number, limits: Limits, effort: Effort) {
  if (limits.maxTransformCost === undefined) return;
  const out = p.box ?? p.resize;
  const cost = transformCost(spec, region.width * region.height, out.width * out.height, frames, effort);
  if (cost > limits.maxTransformCost) {
    throw new CodecError(
      "too_large",
      `transforming all ${frames} frames costs ${Math.ceil(cost)} units, over the limit of ${limits.maxTransformCost} (IMGD_MAX_TRANSFORM_COST): ask for a smaller size, one frame, or fewer effects`,
    );
  }
}

/** `frames`: how many frames will be decoded (all of an animation kept animated, else one). */
function checkPixels(width: number, height: number, limits: Limits, frames = 1): void {
  if (limits.maxSourcePixels !== undefined && width * height * frames > limits.maxSourcePixels) {
    const size = frames > 1 ? `${width}×${height}×${frames} frames` : `${width}×${height}`;
    throw new CodecError("too_large", `source is ${size}, over the limit of ${limits.maxSourcePixels} pixels`);
  }
}

function pagesOf(image: VipsImage): number {
  return image.getTypeof("n-pages") ? Math.max(1, image.getInt("n-pages")) : 1;
}

/** Opens the source lazily: only the header is read until pixels are asked for. */
function openHeader(vips: Vips, bytes: Uint8Array): VipsImage {
  return vips.Image.newFromBuffer(bytes, "", { access: "sequential", fail_on: "truncated" });
}

/** Pixels from a decoder of ours as a vips image (copied into wasm memory). */
function fromRaw(vips: Vips, raw: RawImage): VipsImage {
  const mem = vips.Image.newFromMemory(raw.data, raw.width, raw.height, raw.bands, vips.BandFormat.uchar);
  const out = mem.copy({ interpretation: raw.bands <= 2 ? "b-w" : "srgb" });
  mem.delete();
  if (raw.orientation && raw.orientation !== 1) out.setInt("orientation", raw.orientation);
  return out;
}

/** The source, opened: a header-only libvips load, or decoded pixels. */
function open(vips: Vips, source: Prepared): { image: VipsImage; loader: string } {
  if (source.raw) return { image: fromRaw(vips, source.raw), loader: "decoded" };
  const image = openHeader(vips, source.bytes!);
  const loader = loaderName(image);
  if (image.coding !== "rad") return { image, loader };
  // Radiance pixels load still coded (RGBE, 4 bytes that are not RGBA): to float scRGB first.
  const float = image.rad2float();
  image.delete();
  return { image: float, loader };
}

// -------------------------------------------------------------------------------------- steps

/** Reads the header, plans the geometry, then decodes at the smallest size that suffices. */
const load: Step = {
  name: "load",
  run(s) {
    const { vips, spec } = s;
    const { image: head, loader } = open(vips, s.source);
    s.replace(head);
    s.loader = loader;
    if (!(s.loader in LOADERS) && loader !== "decoded")
      throw new CodecError("invalid_image", `unsupported format (${s.loader})`);
    const bytes = s.source.bytes!;
    s.orientation = orientationOf(head);
    const swap = s.orientation >= 5;
    s.sourceWidth = swap ? head.height : head.width;
    s.sourceHeight = swap ? head.width : head.height;
    const pages = pagesOf(head);
    const animate = pages > 1 && spec.frame === undefined && ANIMATED_OUTPUT.has(spec.format);
    checkFrames(pages, s.limits);
    checkPixels(s.sourceWidth, s.sourceHeight, s.limits, animate ? pages : 1);
    const frame = spec.frame ?? 0;
    if (frame >= pages)
      throw new CodecError("invalid_image", `frame ${frame} does not exist: the image has ${pages} (numbered from 0)`);

    s.region = clampRect(spec.crop, s.sourceWidth, s.sourceHeight);
    s.plan = plan(s.region.width, s.region.height, spec);
    if (animate) checkCost(spec, s.region, s.plan, pages, s.limits, s.effort);
    if (animate) {
      // Every frame, stacked (libvips' "toilet roll"), composited as they are shown.
      const delays = head.getTypeof("delay") ? head.getArrayInt("delay") : [];
      s.animation = {
        pages,
        pageHeight: head.height,
        delays: Array.from({ length: pages }, (_, i) =>
          delays[i] !== undefined && delays[i]! > 0 ? delays[i]! : DEFAULT_DELAY,
        ),
        loop: head.getTypeof("loop") ? head.getInt("loop") : 0,
      };
      // (`n` is an option of the GIF and WebP loaders that the generic typing does not list.)
      s.replace(vips.Image.newFromBuffer(bytes, "", { n: -1, fail_on: "truncated" } as { fail_on: string }));
      return;
    }
    const factor = shrinkOnLoad(s.region.width, s.region.height, s.plan.resize);
    const options = { access: "sequential", fail_on: "truncated", ...(frame > 0 ? { page: frame } : {}) } as const;
    if (frame > 0 && !(s.loader === "webpload" && factor > 1))
      s.replace(vips.Image.newFromBuffer(bytes, "", options as { access: string }));
    if (s.loader === "jpegload" && factor > 1) {
      s.replace(vips.Image.jpegloadBuffer(bytes, { ...options, shrink: factor }));
    } else if (s.loader === "webpload" && factor > 1) {
      s.replace(vips.Image.webploadBuffer(bytes, { ...options, scale: 1 / factor }));
    } else if (s.loader === "svgload") {
      // Vectors are rasterised at the size they will be shown at, never resampled up.
      const need = Math.max(s.plan.resize.width / s.region.width, s.plan.resize.height / s.region.height);
      if (need !== 1) s.replace(vips.Image.svgloadBuffer(bytes, { ...options, scale: need }));
    }
  },
};

function clampRect(r: Rect | undefined, W: number, H: number): Rect {
  if (!r) return { left: 0, top: 0, width: W, height: H };
  const left = Math.min(Math.max(0, Math.floor(r.left)), W - 1);
  const top = Math.min(Math.max(0, Math.floor(r.top)), H - 1);
  const width = Math.max(1, Math.min(W - left, Math.floor(r.width)));
  const height = Math.max(1, Math.min(H - top, Math.floor(r.height)));
  return { left, top, width, height };
}

const orient: Step = {
  name: "orient",
  run(s) {
    if (s.orientation === 1) return;
    // Rotating reads the source out of order, which a sequential decode refuses: render the
    // (already shrunk) decode to memory first.
    s.replace(s.image.copyMemory());
    s.replace(s.image.autorot());
  },
};

/** spec.crop, mapped from source pixels onto the possibly shrunk decode. */
const crop: Step = {
  name: "crop",
  run(s) {
    const img = s.image;
    const r = s.region;
    if (r.width === s.sourceWidth && r.height === s.sourceHeight) return;
    const kx = img.width / s.sourceWidth;
    const ky = img.height / s.sourceHeight;
    if (s.spec.smartCrop) {
      // smartcrop scans the whole decode: give it random access.
      s.replace(img.copyMemory());
      const w = Math.max(1, Math.min(s.image.width, Math.round(r.width * kx)));
      const h = Math.max(1, Math.min(s.image.height, Math.round(r.height * ky)));
      s.replace(s.image.smartcrop(w, h, { interesting: s.spec.smartCrop, premultiplied: false }));
      return;
    }
    const left = Math.min(Math.floor(r.left * kx), img.width - 1);
    const top = Math.min(Math.floor(r.top * ky), img.height - 1);
    const width = Math.max(1, Math.min(img.width - left, Math.round(r.width * kx)));
    const height = Math.max(1, Math.min(img.height - top, Math.round(r.height * ky)));
    s.replace(img.extractArea(left, top, width, height));
  },
};

const srgb: Step = {
  name: "srgb",
  run(s) {
    if (s.spec.colorProfile === "keep" && s.image.getTypeof("icc-profile-data"))
      s.sourceProfile = s.image.getBlob("icc-profile-data").slice();
    const { image, hadProfile } = toSrgb(s.image, s.vips);
    s.replace(image);
    s.hadProfile = hadProfile;
  },
};

/** Resizes to the planned size (lanczos3), then cuts the cover box by gravity. */
const resize: Step = {
  name: "resize",
  run(s) {
    const { width, height } = s.plan.resize;
    let img = s.image;
    if (img.width !== width || img.height !== height) {
      // Premultiplied resampling, or transparent pixels bleed their colour into the edges.
      const alpha = img.hasAlpha();
      const pre = alpha ? img.premultiply() : img;
      const scaled = pre.resize(width / img.width, {
        vscale: height / img.height,
        kernel: s.spec.kernel ?? "lanczos3",
      });
      if (pre !== img) pre.delete();
      if (alpha) {
        const un = scaled.unpremultiply();
        scaled.delete();
        s.replace(un.cast("uchar"));
        un.delete();
      } else s.replace(scaled);
      img = s.image;
    }
    const box = s.plan.box;
    if (s.spec.fit !== "cover" || !box || (img.width === box.width && img.height === box.height)) return;
    const w = Math.min(box.width, img.width);
    const h = Math.min(box.height, img.height);
    const g = s.spec.gravity;
    if ((g === "attention" || g === "entropy") && !s.spec.focus) {
      // smartcrop scans the image before cutting: give it random access to the small result.
      s.replace(img.copyMemory());
      s.replace(s.image.smartcrop(w, h, { interesting: g, premultiplied: false }));
    } else {
      let { left, top } = anchor(g, img.width, img.height, w, h);
      const focus = s.spec.focus;
      if (focus) {
        left = Math.round(focus[0] * img.width - w / 2);
        top = Math.round(focus[1] * img.height - h / 2);
      }
      if (s.spec.offset) {
        left += s.spec.offset[0];
        top += s.spec.offset[1];
      }
      left = Math.max(0, Math.min(img.width - w, left));
      top = Math.max(0, Math.min(img.height - h, top));
      s.replace(img.extractArea(left, top, w, h));
    }
  },
};

/** contain: pads to the box with the background, placed by gravity. */
const pad: Step = {
  name: "pad",
  run(s) {
    const box = s.plan.box;
    if (s.spec.fit !== "contain" || !box) return;
    let img = s.image;
    if (img.width === box.width && img.height === box.height) return;
    const bg = s.spec.background ?? WHITE;
    if (bg[3] < 255 && !img.hasAlpha()) {
      s.replace(img.bandjoin(255));
      img = s.image;
    }
    const direction = COMPASS[s.spec.gravity] ?? "centre";
    s.replace(
      img.gravity(direction, box.width, box.height, { extend: "background", background: backgroundFor(img, bg) }),
    );
  },
};

/** Formats without alpha get the image composited over the background (white by default). */
const flatten: Step = {
  name: "flatten",
  run(s) {
    if (s.format !== "jpeg" || !s.image.hasAlpha()) return;
    const [r, g, b] = s.spec.background ?? WHITE;
    s.replace(s.image.flatten({ background: [r, g, b] }));
  },
};

/** What survives in the output file: EXIF/XMP/IPTC only on request, the sRGB profile if any. */
const metadata: Step = {
  name: "metadata",
  run(s) {
    // After `srgb` the only profile an image can carry is libvips' compact sRGB one
    // (480 bytes), attached when the source was tagged; untagged output means sRGB anyway.
    const spec = s.spec;
    s.keep = spec.keepMetadata ? "all" : s.hadProfile ? "icc" : "none";
    const bits = s.format === "png" || s.format === "tiff" || s.format === "avif";
    if (spec.colorProfile === "rgb16" && bits) s.replace(s.image.colourspace("rgb16"));
    else if (spec.colorProfile === "cmyk" && (s.format === "jpeg" || s.format === "tiff")) {
      s.replace(s.image.iccTransform("cmyk", { depth: 8, intent: "perceptual" }));
      s.keep = spec.keepMetadata ? "all" : "icc";
    } else if (spec.colorProfile === "keep" && s.sourceProfile) {
      // Back into the source's own profile, which is embedded (keep "icc").
      const img = s.image.copy();
      img.setBlob("icc-profile-data", s.sourceProfile);
      s.replace(img);
      s.replace(s.image.iccExport({ depth: 8, intent: "perceptual" }));
      s.keep = spec.keepMetadata ? "all" : "icc";
    }
    if (spec.keepCopyright && !spec.keepMetadata) keepOnlyCopyright(s);
    if (spec.stripColorProfile) {
      if (s.keep === "icc") s.keep = "none";
      else if (s.keep === "all" && s.image.getTypeof("icc-profile-data")) {
        const img = s.image.copy();
        img.remove("icc-profile-data");
        s.replace(img);
      }
    }
    if (spec.dpi) {
      s.replace(s.image.copy({ xres: spec.dpi / 25.4, yres: spec.dpi / 25.4 }));
      if (s.format === "jpeg" && s.keep !== "all") headerOnly(s, () => false);
    }
  },
};

const COPYRIGHT_FIELDS = new Set(["exif-ifd0-Copyright", "exif-ifd0-Artist"]);

function fieldNames(img: VipsImage): string[] {
  const fields = img.getFields();
  const names: string[] = [];
  for (let i = 0; i < fields.size(); i++) names.push(fields.get(i) ?? "");
  fields.delete();
  return names;
}

/**
 * Removes every metadata field but those `kept` names (and the profile `s.keep` already keeps),
 * then lets the encoder write whatever is left ("all"): how a JPEG gets only its copyright, or
 * only a resolution (libjpeg's density is written through EXIF).
 */
function headerOnly(s: State, kept: (name: string) => boolean): void {
  const keepIcc = s.keep !== "none";
  const copy = s.image.copy();
  for (const n of fieldNames(copy)) {
    if (kept(n)) continue;
    const meta = n.startsWith("exif-") || n === "xmp-data" || n === "iptc-data" || n.startsWith("png-comment");
    if (meta || (n === "icc-profile-data" && !keepIcc)) copy.remove(n);
  }
  s.replace(copy);
  s.keep = "all";
}

/** Metadata is stripped except the EXIF copyright and artist (libvips drops EXIF tags without fields). */
function keepOnlyCopyright(s: State): void {
  if (!s.image.getTypeof("exif-data") || !fieldNames(s.image).some((n) => COPYRIGHT_FIELDS.has(n))) return;
  headerOnly(s, (n) => COPYRIGHT_FIELDS.has(n) || n === "exif-data");
  // libvips' savers rebuild the EXIF block from the fields, the WebP muxer (webp.ts) copies the
  // block as it is: rebuild it here through a 1×1 JPEG of the same header.
  if (s.format === "webp") {
    s.materialize();
    const dot = s.image.extractArea(0, 0, 1, 1);
    const jpeg = dot.writeToBuffer(".jpg", { keep: "all" });
    dot.delete();
    const back = s.vips.Image.newFromBuffer(jpeg, "");
    try {
      if (back.getTypeof("exif-data")) {
        const copy = s.image.copy();
        copy.setBlob("exif-data", back.getBlob("exif-data").slice());
        s.replace(copy);
      }
    } finally {
      back.delete();
    }
  }
}

const encode: Step = {
  name: "encode",
  run(s) {
    const img = s.image;
    if (s.format === "avif" && avifTooLarge(img.width, img.height)) {
      s.format = "webp";
    }
    const q = Math.min(100, Math.max(1, Math.round(s.spec.quality)));
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

/** The steps applied to each frame of an animation, between load and encode. */
const FRAME_STEPS: readonly Step[] = [
  crop,
  srgb,
  resize,
  pad,
  ...EFFECT_STEPS,
  extend,
  extendAspectRatio,
  watermark,
  padding,
];

/** The transform, step by step. Exported so its shape can be read (and logged) in one place. */
export const STEPS: readonly Step[] = [load, orient, ...FRAME_STEPS, flatten, metadata, encode];

export function transform(
  codecs: Codecs,
  source: Prepared,
  spec: TransformSpec,
  limits: Limits = {},
  effort: Effort = DEFAULT_EFFORT,
  input: TransformInput = {},
): TransformResult {
  const s = new State(codecs, source, spec, limits, effort, input);
  try {
    load.run(s);
    if (s.animation) return transformFrames(s);
    for (const step of STEPS.slice(1)) step.run(s);
    const data = s.output!;
    const out: TransformResult = {
      data,
      format: s.format,
      mime: OUTPUT_MIME[s.format],
      width: s.image.width,
      height: s.image.height,
    };
    if (s.quality !== undefined) out.quality = s.quality;
    return out;
  } finally {
    s.dispose();
  }
}

/**
 * An animation to GIF or WebP: the per-frame steps on each frame (same geometry for all), then
 * one animated file with the source's delays and loop count.
 */
function transformFrames(s: State): TransformResult {
  const { pages, pageHeight, delays, loop } = s.animation!;
  const full = s.image;
  const frames: VipsImage[] = [];
  try {
    for (let i = 0; i < pages; i++) {
      const f = new State(s.codecs, s.source, s.spec, s.limits, s.effort, s.input);
      Object.assign(f, {
        sourceWidth: s.sourceWidth,
        sourceHeight: s.sourceHeight,
        region: s.region,
        plan: s.plan,
        format: s.format,
      });
      f.replace(full.extractArea(0, i * pageHeight, full.width, pageHeight));
      try {
        for (const step of FRAME_STEPS) step.run(f);
        // Frames must share a band layout to be stacked again (pad may add alpha to some).
        frames.push(f.take());
      } finally {
        f.dispose();
      }
    }
    const { width, height } = frames[0]!;
    const q = Math.min(100, Math.max(1, Math.round(s.spec.quality)));
    let data: Uint8Array;
    if (s.format === "webp") {
      data = encodeAnimatedWebp(
        frames.map((fr) => encodeWebp(fr, s.codecs.webp, q, "none")),
        width,
        height,
        delays,
        loop,
      );
    } else {
      const stacked = s.vips.Image.arrayjoin(frames, { across: 1 });
      try {
        const out = stacked.copy();
        out.setInt("page-height", height);
        out.setArrayInt("delay", delays);
        out.setInt("loop", loop);
        data = out.writeToBuffer(".gif", { keep: "none" });
        out.delete();
      } finally {
        stacked.delete();
      }
    }
    return { data, format: s.format, mime: OUTPUT_MIME[s.format], width, height, frames: pages };
  } finally {
    for (const f of frames) f.delete();
  }
}

// ------------------------------------------------------------------------------------ inspect

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
