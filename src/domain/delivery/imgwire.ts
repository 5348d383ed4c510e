import * as v from "valibot";
import type { Fit, Gravity, OutputFormat, TransformSpec } from "../../../codecs/types.ts";
import { AppError } from "../errors.ts";
import type { DeliveryRequest } from "./deliver.ts";
import { type NativeParams, parseParams } from "./native.ts";
import { deliveryFormatsOf, negotiate as negotiateFormat } from "./negotiate.ts";
import type { Source } from "./spec.ts";

// Imgwire's URL parameters (reference/imgwire/url-parameters.md) parsed into the canonical
// transform spec. Each parameter may come by any one of its names; two names of one parameter
// are refused, as are parameters imgd does not implement (better a 400 than a silent no-op).

const ALIASES: Record<string, string[]> = {
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
};
const CANONICAL = new Map(Object.entries(ALIASES).flatMap(([canon, names]) => names.map((n) => [n, canon] as const)));

const bad = (param: string, why: string) => new AppError("VALIDATION_ERROR", `${param}: ${why}`, { field: param });

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

const GRAVITY: Record<string, Gravity> = {
  ce: "centre",
  center: "centre",
  centre: "centre",
  n: "north",
  no: "north",
  north: "north",
  s: "south",
  so: "south",
  south: "south",
  e: "east",
  ea: "east",
  east: "east",
  w: "west",
  we: "west",
  west: "west",
  ne: "northeast",
  noea: "northeast",
  northeast: "northeast",
  nw: "northwest",
  nowe: "northwest",
  northwest: "northwest",
  se: "southeast",
  soea: "southeast",
  southeast: "southeast",
  sw: "southwest",
  sowe: "southwest",
  southwest: "southwest",
  sm: "attention",
  attention: "attention",
  entropy: "entropy",
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
  if (!r.success) throw bad(param, r.issues[0].message);
  return r.output;
}

/** `ce`, `ce:sm`, `ce:0:0` (offsets other than 0 are not supported). */
function gravity(param: string, parts: string[]): Gravity {
  const g = GRAVITY[parts[0]?.toLowerCase() ?? ""];
  if (!g) throw bad(param, "unknown gravity (ce, no, so, ea, we, noea, nowe, soea, sowe, attention, entropy)");
  if (parts.length === 2 && parts[1] === "sm") return "attention";
  if (parts.length === 3 && /^-?\d+$/.test(parts[1]) && /^-?\d+$/.test(parts[2])) {
    if (Number(parts[1]) !== 0 || Number(parts[2]) !== 0) throw bad(param, "gravity offsets are not supported");
    return g;
  }
  if (parts.length !== 1) throw bad(param, "expected gravity, gravity:sm or gravity:x:y");
  return g;
}

function color(param: string, raw: string): [number, number, number, number] {
  const parts = raw.split(":");
  if (parts.length === 3 || parts.length === 4) {
    const n = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
    if (n.some((x) => !(x >= 0 && x <= 255))) throw bad(param, "expected r:g:b[:a] from 0 to 255");
    return [n[0], n[1], n[2], n[3] ?? 255];
  }
  const hex = raw.replace(/^#/, "").toLowerCase();
  const full = /^[0-9a-f]{3}$/.test(hex) ? [...hex].map((c) => c + c).join("") : hex;
  if (!/^([0-9a-f]{6}|[0-9a-f]{8})$/.test(full))
    throw bad(param, "expected a colour: rgb, rrggbb, rrggbbaa or r:g:b[:a]");
  const b = full.match(/../g)!.map((x) => parseInt(x, 16));
  return [b[0], b[1], b[2], b[3] ?? 255];
}

/** One value per canonical parameter; a second name of one parameter, or an unknown one, is a 400. */
export function splitImgwireQuery(search: URLSearchParams): Map<string, { name: string; value: string }> {
  const out = new Map<string, { name: string; value: string }>();
  for (const [name, value] of search) {
    const canon = CANONICAL.get(name);
    if (!canon) throw bad(name, "is not a URL parameter imgd supports");
    const prev = out.get(canon);
    if (prev)
      throw bad(name, prev.name === name ? "given more than once" : `${prev.name} and ${name} both set ${canon}`);
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
): { spec: TransformSpec; autoFormat: boolean } {
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
      throw bad(dprRaw.name, "must be a number from 0.01 to 8");
    if (width) width = Math.max(1, Math.round(width * dpr));
    if (height) height = Math.max(1, Math.round(height * dpr));
  }
  let fit: Fit = "inside";
  const rt = get("resizing_type");
  if (rt) {
    const f = RESIZING[rt.value.toLowerCase()];
    if (!f) throw bad(rt.name, "must be cover, contain, fill, inside, outside (or fit, fill-down, force, auto)");
    fit = f;
  }
  const enlarge = get("enlarge") ? one(get("enlarge")!.name, boolean, get("enlarge")!.value) : false;
  const g = get("gravity") ? gravity(get("gravity")!.name, get("gravity")!.value.split(":")) : "centre";
  const fmt = get("format");
  let autoFormat = true;
  let format: OutputFormat;
  if (fmt && FORMATS[fmt.value.toLowerCase()] === undefined)
    throw bad(fmt.name, "must be auto, jpg, jpeg, png, webp, avif, gif or tiff");
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
  const quality = !q || q.value === "auto" ? opts.defaultQuality : one(q.name, intIn(1, 100), q.value);
  const keepMetadata = get("strip_metadata")
    ? !one(get("strip_metadata")!.name, boolean, get("strip_metadata")!.value)
    : false;
  const background = get("background") ? color(get("background")!.name, get("background")!.value) : undefined;

  let spec: TransformSpec = { fit, enlarge, gravity: g, format, quality, keepMetadata };
  // One frame of an animation (from 0); without it an animation stays animated in GIF/WebP.
  const page = get("page");
  if (page) spec.frame = one(page.name, intIn(0, 9999), page.value);
  const c = get("crop");
  if (c) spec.crop = crop(c.name, c.value, src);
  if (width !== undefined) spec.width = width;
  if (height !== undefined) spec.height = height;
  if (background) spec.background = background;
  // As in the native dialect: a fit only matters with a box, a gravity only where it crops,
  // so requests that mean the same give the same spec (and share one cached variant).
  if (spec.width === undefined || spec.height === undefined) spec = { ...spec, fit: "inside" };
  if (spec.width === undefined && spec.height === undefined) spec = { ...spec, enlarge: false };
  if (spec.fit !== "cover" && !spec.crop) spec = { ...spec, gravity: "centre" };
  if (spec.fit !== "contain" && spec.background && format !== "jpeg") delete spec.background;
  return { spec, autoFormat };
}

/** `w:h[:gravity]` or `x:y:w:h[:gravity]`; sizes ≤ 1 are fractions of the source. */
function crop(param: string, raw: string, src: Source): NonNullable<TransformSpec["crop"]> {
  const parts = raw.split(":");
  const numeric = (s: string | undefined) => s !== undefined && /^\d+(\.\d+)?$/.test(s);
  let x: number | undefined;
  let y: number | undefined;
  let rest: string[];
  let w: number;
  let h: number;
  if (parts.length >= 4 && parts.slice(0, 4).every(numeric)) {
    [x, y, w, h] = parts.slice(0, 4).map(Number);
    rest = parts.slice(4);
  } else if (numeric(parts[0]) && numeric(parts[1])) {
    [w, h] = parts.slice(0, 2).map(Number);
    rest = parts.slice(2);
  } else throw bad(param, "expected width:height[:gravity] or x:y:width:height[:gravity]");
  const size = (n: number, full: number) => Math.max(1, Math.min(full, Math.round(n <= 1 ? n * full : n)));
  const cw = size(w, src.width);
  const ch = size(h, src.height);
  if (x !== undefined && y !== undefined) {
    const left = Math.min(Math.round(x), src.width - 1);
    const top = Math.min(Math.round(y), src.height - 1);
    return { left, top, width: Math.min(cw, src.width - left), height: Math.min(ch, src.height - top) };
  }
  const g = rest.length ? gravity(param, rest) : "centre";
  const dx = src.width - cw;
  const dy = src.height - ch;
  const left = /west/.test(g) ? 0 : /east/.test(g) ? dx : Math.floor(dx / 2);
  const top = /north/.test(g) ? 0 : /south/.test(g) ? dy : Math.floor(dy / 2);
  return { left, top, width: cw, height: ch };
}

/**
 * An Imgwire CDN URL (`…/cdn/{username}/{path}[@preset]?{parameters}`) as a delivery request:
 * public images only. `onAutoFormat` hears that the answer depends on Accept (Vary: Accept).
 */
export function imgwireDelivery(
  username: string,
  pathAndPreset: string,
  search: URLSearchParams,
  accept: string | undefined,
  ifNoneMatch: (etag: string) => boolean,
  onAutoFormat: () => void,
): DeliveryRequest<undefined> {
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
    access: "public",
    ifNoneMatch,
    spec: async ({ user, image, preset: byName }) => {
      let preset: Record<string, string> | undefined;
      if (presetName !== undefined) {
        preset = SIZE_PRESETS[presetName];
        if (!preset) {
          const row = await byName(presetName);
          if (!row) throw new AppError("NOT_FOUND", `No preset named '${presetName}'`);
          preset = fromNativePreset(parseParams(JSON.parse(row.params), `preset ${row.name}`));
        }
      }
      const { spec, autoFormat } = imgwireSpec(splitImgwireQuery(search), preset, image, {
        accept,
        defaultQuality: user.default_quality,
        deliveryFormats: deliveryFormatsOf(user.delivery_formats),
      });
      if (autoFormat) onAutoFormat();
      return { spec };
    },
  };
}
