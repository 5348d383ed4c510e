import * as v from "valibot";
import type { Fit, OutputFormat, TransformSpec } from "../../../codecs/types.ts";
import { AppError, invalid } from "../errors.ts";
import * as P from "./imgwire-params.ts";
import { color, type Placement, placement } from "./imgwire-params.ts";
import { crop, cutAt } from "./imgwire-crop.ts";
import { watermark as watermarkOf, type WatermarkSource } from "./imgwire-watermark.ts";
import type { DeliveryAsk, DeliveryRequest } from "./request.ts";
import { type NativeParams, parseParams } from "./native.ts";
import { SIGNATURE_KEYS } from "./signing.ts";
import { deliveryFormatsOf, negotiate as negotiateFormat } from "./negotiate.ts";
import type { Source } from "./spec.ts";

// Imgwire's URL parameters (reference/imgwire/url-parameters.md) parsed into the canonical
// transform spec. Each parameter may come by any one of its names; two names of one parameter
// are refused, as are unknown parameters (better a 400 than a silent no-op).

export const ALIASES: Record<string, string[]> = {
  width: ["w", "width"],
  height: ["h", "height"],
  resizing_type: ["resizing_type"],
  format: ["f", "format", "ext", "extension"],
  quality: ["q", "quality"],
  dpr: ["dpr"],
  gravity: ["g", "gravity"],
  crop: ["c", "crop"],
  enlarge: ["el", "enlarge"],
  strip_metadata: ["sm", "strip_metadata"],
  background: ["bg", "background"],
  page: ["page", "pg", "frame"],
  adjust: ["a", "adjust"],
  background_alpha: ["bga", "background_alpha"],
  blur: ["bl", "blur"],
  brightness: ["br", "brightness"],
  chroma_subsampling: ["chroma_subsampling"],
  color_profile: ["cp", "icc", "color_profile"],
  colorize: ["col", "colorize"],
  contrast: ["co", "contrast"],
  dpi: ["dpi"],
  duotone: ["dt", "duotone"],
  extend: ["ex", "extend"],
  extend_aspect_ratio: ["exar", "extend_ar", "extend_aspect_ratio"],
  flip: ["fl", "flip"],
  gradient: ["gr", "gradient"],
  hue: ["hu", "hue"],
  keep_copyright: ["kcr", "keep_copyright"],
  lightness: ["l", "lightness"],
  "min-height": ["mh", "min_height", "min-height"],
  "min-width": ["mw", "min_width", "min-width"],
  monochrome: ["mc", "monochrome"],
  negate: ["neg", "negate"],
  normalize: ["norm", "normalise", "normalize"],
  padding: ["pd", "padding"],
  pixelate: ["pix", "pixelate"],
  progressive: ["progressive"],
  resizing_algorithm: ["ra", "resizing_algorithm"],
  rotate: ["rot", "rotate"],
  saturation: ["sa", "saturation"],
  sharpen: ["sh", "sharpen"],
  strip_color_profile: ["scp", "strip_color_profile"],
  watermark: ["wm", "watermark"],
  watermark_position: ["wmp", "watermark_offset", "watermark_position"],
  watermark_rotate: ["wmr", "wm_rot", "watermark_rotate"],
  watermark_shadow: ["wmsh", "watermark_shadow"],
  watermark_size: ["wms", "watermark_size"],
  watermark_text: ["wmt", "watermark_text"],
  watermark_url: ["wmu", "watermark_url"],
  zoom: ["z", "zoom"],
};
/** Every name (canonical or alias) the Imgwire dialect reads. */
export const IMGWIRE_PARAMETER_NAMES: readonly string[] = Object.values(ALIASES).flat();

const CANONICAL = new Map(Object.entries(ALIASES).flatMap(([canon, names]) => names.map((n) => [n, canon] as const)));

const RESIZING: Record<string, Fit> = {
  cover: "cover",
  contain: "contain",
  fill: "fill",
  inside: "inside",
  outside: "outside",
  fit: "inside",
  "fill-down": "inside",
  force: "fill",
  auto: "inside",
};

const FORMATS: Record<string, OutputFormat | "auto"> = {
  auto: "auto",
  jpg: "jpeg",
  jpeg: "jpeg",
  png: "png",
  webp: "webp",
  avif: "avif",
  gif: "gif",
  tiff: "tiff",
  tif: "tiff",
};

const intIn = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.regex(/^\d{1,6}$/, `must be a whole number from ${min} to ${max}`),
    v.transform(Number),
    v.minValue(min, `must be a whole number from ${min} to ${max}`),
    v.maxValue(max, `must be a whole number from ${min} to ${max}`),
  );
const boolean = v.pipe(
  v.string(),
  v.toLowerCase(),
  v.picklist(["true", "false", "t", "f", "1", "0"], "must be true or false"),
  v.transform((s) => ["true", "t", "1"].includes(s)),
);

function one<T>(param: string, schema: v.GenericSchema<string, T>, raw: string): T {
  const r = v.safeParse(schema, raw);
  if (!r.success) throw invalid(param, r.issues[0].message);
  return r.output;
}

/** One value per canonical parameter; a second name of one parameter, or an unknown one, is a 400. */
export function splitImgwireQuery(search: URLSearchParams): Map<string, { name: string; value: string }> {
  const out = new Map<string, { name: string; value: string }>();
  for (const [name, value] of search) {
    const canon = CANONICAL.get(name);
    if (!canon) throw invalid(name, "is not a URL parameter imgd supports");
    const prev = out.get(canon);
    if (prev)
      throw invalid(name, prev.name === name ? "given more than once" : `${prev.name} and ${name} both set ${canon}`);
    out.set(canon, { name, value });
  }
  return out;
}

/** The SDK's size presets (`…/image@small`). */
export const SIZE_PRESETS: Record<string, Record<string, string>> = {
  thumbnail: { width: "150", height: "150", resizing_type: "cover" },
  small: { width: "320" },
  medium: { width: "640" },
  large: { width: "1280" },
};

/** A tenant's native preset in Imgwire's words, so both dialects agree on what it means. */
export function fromNativePreset(p: NativeParams): Record<string, string> {
  const out: Record<string, string> = {};
  if (p.w !== undefined) out.width = String(p.w);
  if (p.h !== undefined) out.height = String(p.h);
  if (p.q !== undefined) out.quality = String(p.q);
  if (p.format) out.format = p.format;
  if (p.fit === "cover") Object.assign(out, { resizing_type: "cover", enlarge: "true" });
  else if (p.fit === "fill") Object.assign(out, { resizing_type: "fill", enlarge: "true" });
  else if (p.fit === "contain") Object.assign(out, { resizing_type: "inside", enlarge: "true" });
  else if (p.fit === "scale-down") out.resizing_type = "inside";
  return out;
}

/** Picks the output for `format=auto` (or none) from Accept when no tenant order is given: AVIF, WebP, else the source's kind. */
export const negotiate = (accept: string | undefined, src: Source): OutputFormat =>
  negotiateFormat(accept, ["avif", "webp", "jpeg"], src);

/**
 * The canonical spec for Imgwire URL parameters over a preset's. `autoFormat` says whether the
 * answer depends on Accept (Vary: Accept).
 */
export function imgwireSpec(
  query: Map<string, { name: string; value: string }>,
  preset: Record<string, string> | undefined,
  src: Source,
  opts: { accept: string | undefined; defaultQuality: number; deliveryFormats?: readonly string[] },
): { spec: TransformSpec; autoFormat: boolean; watermark?: WatermarkSource } {
  const p = new Map<string, { name: string; value: string }>(
    Object.entries(preset ?? {}).map(([k, value]) => [k, { name: k, value }]),
  );
  for (const [k, val] of query) p.set(k, val);
  const get = (k: string) => p.get(k);

  let width = get("width") ? one(get("width")!.name, intIn(1, 8192), get("width")!.value) : undefined;
  let height = get("height") ? one(get("height")!.name, intIn(1, 8192), get("height")!.value) : undefined;
  const dprRaw = get("dpr");
  if (dprRaw) {
    const dpr = Number(dprRaw.value);
    if (!/^\d+(\.\d+)?$/.test(dprRaw.value) || !(dpr >= 0.01 && dpr <= 8))
      throw invalid(dprRaw.name, "must be a number from 0.01 to 8");
    if (width) width = Math.max(1, Math.round(width * dpr));
    if (height) height = Math.max(1, Math.round(height * dpr));
  }
  let fit: Fit = "inside";
  const rt = get("resizing_type");
  if (rt) {
    const f = RESIZING[rt.value.toLowerCase()];
    if (!f) throw invalid(rt.name, "must be cover, contain, fill, inside, outside (or fit, fill-down, force, auto)");
    fit = f;
  }
  const enlarge = get("enlarge") ? one(get("enlarge")!.name, boolean, get("enlarge")!.value) : false;
  const place: Placement = get("gravity")
    ? placement(get("gravity")!.name, get("gravity")!.value.split(":"))
    : { gravity: "centre" };
  const g = place.gravity;
  const fmt = get("format");
  let autoFormat = true;
  let format: OutputFormat;
  if (fmt && FORMATS[fmt.value.toLowerCase()] === undefined)
    throw invalid(fmt.name, "must be auto, jpg, jpeg, png, webp, avif, gif or tiff");
  const named = fmt ? FORMATS[fmt.value.toLowerCase()] : "auto";
  if (named === "auto")
    format = opts.deliveryFormats
      ? negotiateFormat(opts.accept, opts.deliveryFormats, src)
      : negotiate(opts.accept, src);
  else {
    format = named;
    autoFormat = false;
  }
  const q = get("quality");
  const autoQuality = q?.value.toLowerCase() === "auto";
  // auto: the quality is searched per image up to a fixed ceiling (not the tenant's default,
  // so the rule and the key are the same for everyone).
  const quality = autoQuality ? AUTO_QUALITY.ceiling : !q ? opts.defaultQuality : one(q.name, intIn(1, 100), q.value);
  const keepMetadata = get("strip_metadata")
    ? !one(get("strip_metadata")!.name, boolean, get("strip_metadata")!.value)
    : false;
  let background = get("background") ? color(get("background")!.name, get("background")!.value) : undefined;
  const bga = get("background_alpha");
  if (bga) {
    const alpha = Math.round(P.num(bga.name, bga.value, 0, 1) * 255);
    background = [...(background ?? [255, 255, 255, 255]).slice(0, 3), alpha] as [number, number, number, number];
  }

  let spec: TransformSpec = { fit, enlarge, gravity: g, format, quality, keepMetadata };
  // One frame of an animation (from 0); without it an animation stays animated in GIF/WebP.
  const page = get("page");
  if (page) spec.frame = one(page.name, intIn(0, 9999), page.value);
  const c = get("crop");
  if (c) {
    const cut = crop(c.name, c.value, src);
    spec.crop = cut.rect;
    if (cut.smart) spec.smartCrop = cut.smart;
  }
  const z = get("zoom");
  if (z) {
    // The middle 1/factor of the image (or of the crop) is cut, then sized as asked.
    const { factor, place: zp } = P.zoom(z);
    const region = spec.crop ?? { left: 0, top: 0, width: src.width, height: src.height };
    if (factor > 1 && !spec.smartCrop) {
      const within = cutAt(
        zp,
        { width: region.width, height: region.height },
        region.width / factor,
        region.height / factor,
      );
      spec.crop = { ...within, left: region.left + within.left, top: region.top + within.top };
    }
  }
  if (place.focus) spec.focus = place.focus;
  if (place.offset) spec.offset = place.offset;
  effects(spec, get);
  if (autoQuality) spec.autoQuality = { ssim: AUTO_QUALITY.ssim };
  const wm = watermarkOf(get);
  if (width !== undefined) spec.width = width;
  if (height !== undefined) spec.height = height;
  if (background) spec.background = background;
  // As in the native dialect: a fit only matters with a box, a gravity only where it crops,
  // so requests that mean the same give the same spec (and share one cached variant).
  if (spec.width === undefined || spec.height === undefined) spec = { ...spec, fit: "inside" };
  if (spec.width === undefined && spec.height === undefined) spec = { ...spec, enlarge: false };
  // (A crop keeps its gravity as before, so earlier variants keep their keys.)
  const placesByGravity = spec.fit === "cover" || spec.crop !== undefined || spec.extendAspectRatio !== undefined;
  if (!placesByGravity) spec = { ...spec, gravity: "centre" };
  // A focal point and offsets only move the cover cut.
  if (spec.fit !== "cover") spec = { ...spec, focus: undefined, offset: undefined };
  if (spec.gravity === "attention" || spec.gravity === "entropy") spec.offset = undefined;
  const paints = spec.fit === "contain" || format === "jpeg" || spec.padding || spec.extendAspectRatio;
  const paintsExtend = spec.extend && !spec.extend.background;
  if (!paints && !paintsExtend && spec.background) delete spec.background;
  if (wm) spec.watermark = wm.spec;
  return { spec, autoFormat, watermark: wm?.source };
}

/**
 * quality=auto: the lowest quality (up to the ceiling) whose output keeps this SSIM against the
 * unencoded image. The target was measured with scripts/auto-quality.ts (README).
 */
export const AUTO_QUALITY = { ssim: 0.97, ceiling: 90 };

/** The effect, canvas and output parameters into their spec fields. */
function effects(spec: TransformSpec, get: (k: string) => { name: string; value: string } | undefined): void {
  const has = (k: string) => get(k) !== undefined;
  const mod: NonNullable<TransformSpec["modulate"]> = {};
  if (has("adjust")) Object.assign(mod, P.adjust(get("adjust")!));
  const times = (k: "brightness" | "saturation" | "lightness", param: string) => {
    const p = get(param);
    if (p) mod[k] = (mod[k] ?? 1) * P.num(p.name, p.value, 0.01, 10);
  };
  times("brightness", "brightness");
  times("saturation", "saturation");
  times("lightness", "lightness");
  if (has("hue")) mod.hue = (mod.hue ?? 0) + P.num(get("hue")!.name, get("hue")!.value, -3600, 3600, "degrees");
  if (Object.keys(mod).length) spec.modulate = mod;
  if (has("blur")) spec.blur = P.blur(get("blur")!);
  if (has("sharpen")) spec.sharpen = P.sharpen(get("sharpen")!);
  if (has("pixelate")) spec.pixelate = P.int(get("pixelate")!.name, get("pixelate")!.value, 2, 256);
  if (has("contrast")) spec.contrast = P.contrast(get("contrast")!);
  if (has("normalize")) spec.normalize = P.normalize(get("normalize")!);
  if (has("monochrome")) spec.monochrome = P.monochrome(get("monochrome")!);
  if (has("duotone")) spec.duotone = P.duotone(get("duotone")!);
  if (has("colorize")) spec.colorize = color(get("colorize")!.name, get("colorize")!.value);
  if (has("negate")) spec.negate = P.negate(get("negate")!);
  if (has("gradient")) spec.gradient = P.gradient(get("gradient")!);
  if (has("padding")) spec.padding = P.padding(get("padding")!);
  if (has("extend")) spec.extend = P.extend(get("extend")!);
  if (has("extend_aspect_ratio")) spec.extendAspectRatio = P.aspectRatio(get("extend_aspect_ratio")!);
  if (has("flip")) spec.flip = P.flip(get("flip")!);
  if (has("rotate")) spec.rotate = P.rotation(get("rotate")!);
  if (has("resizing_algorithm")) spec.kernel = P.kernel(get("resizing_algorithm")!);
  if (has("min-width")) spec.minWidth = P.int(get("min-width")!.name, get("min-width")!.value, 1, 8192);
  if (has("min-height")) spec.minHeight = P.int(get("min-height")!.name, get("min-height")!.value, 1, 8192);
  if (has("dpi")) spec.dpi = P.int(get("dpi")!.name, get("dpi")!.value, 1, 600);
  if (has("chroma_subsampling")) spec.chromaSubsampling = P.chroma(get("chroma_subsampling")!);
  if (has("progressive")) spec.progressive = P.progressive(get("progressive")!);
  if (has("color_profile")) spec.colorProfile = P.colorProfile(get("color_profile")!);
  const flag = (k: string) => has(k) && P.bool(get(k)!.name, get(k)!.value);
  if (flag("strip_color_profile")) spec.stripColorProfile = true;
  if (flag("keep_copyright")) spec.keepCopyright = true;
}

/**
 * An Imgwire CDN URL (`…/cdn/{username}/{path}[@preset]?{parameters}`) as a delivery request:
 * a private image needs the owner's key or a signature (`token` and `expires`, an Imgwire CDN
 * signature of the path with its preset and of every parameter). The spec says when the
 * answer depends on Accept (no `format`, or `format=auto`).
 */
export function imgwireDelivery(ask: DeliveryAsk): DeliveryRequest<undefined> {
  const { username, path: pathAndPreset, search, accept, ifNoneMatch, requester } = ask;
  const params = new URLSearchParams([...search].filter(([k]) => !SIGNATURE_KEYS.includes(k)));
  let path = pathAndPreset;
  let presetName: string | undefined;
  const at = path.lastIndexOf("@");
  if (at > path.lastIndexOf("/")) {
    presetName = path.slice(at + 1);
    path = path.slice(0, at);
  }
  return {
    username,
    path,
    access: "signed",
    // The signature covers the path as the URL writes it, preset included.
    signedPath: pathAndPreset,
    search,
    signature: "imgwire-cdn-url",
    requester,
    asks: [...params.keys()].length > 0 ? "options" : presetName !== undefined ? "preset" : "original",
    ifNoneMatch,
    url: ask.url,
    spec: async ({ user, image, preset: byName, watermarkImage, watermarkUrl }) => {
      let preset: Record<string, string> | undefined;
      if (presetName !== undefined) {
        preset = SIZE_PRESETS[presetName];
        if (!preset) {
          const row = await byName(presetName);
          if (!row) throw new AppError("NOT_FOUND", `No preset named '${presetName}'`);
          preset = fromNativePreset(parseParams(row.params, `preset ${row.name}`));
        }
      }
      const { spec, autoFormat, watermark } = imgwireSpec(splitImgwireQuery(params), preset, image, {
        accept: accept ?? undefined,
        defaultQuality: user.default_quality,
        deliveryFormats: deliveryFormatsOf(user.delivery_formats),
      });
      if (!watermark || watermark.kind === "text") return { spec, varyAccept: autoFormat };
      const mark = watermark.kind === "image" ? await watermarkImage(watermark.id) : await watermarkUrl(watermark.url);
      // The mark's identity is its content hash: a new logo under the same id makes new variants.
      spec.watermark = { ...spec.watermark!, image: mark.hash };
      return { spec, input: { watermark: mark.bytes }, varyAccept: autoFormat };
    },
  };
}
