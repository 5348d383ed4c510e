import * as v from "valibot";
import type { Fit, OutputFormat, TransformSpec } from "../../../codecs/types.ts";
import { AppError, invalid } from "../errors.ts";
import { extensionOf } from "../library/paths.ts";
import type { Asks } from "./access.ts";
import type { DeliveryAsk, DeliveryRequest } from "./request.ts";
import { acceptClass } from "./negotiate.ts";
import { SIGNATURE_KEYS } from "./signing.ts";
import { checkWritableExtension, EXT_FORMAT, type Source, WEB_FORMATS } from "./spec.ts";

// The native (img-src) URL dialect: ?w=&h=&fit=&q=, ?p:preset, img.pro's ?size=s|m|l, and the
// output format from the file extension.

const int = (min: number, max: number) =>
  v.pipe(
    v.union([
      v.number(),
      v.pipe(v.string(), v.regex(/^\d{1,6}$/, `must be a whole number from ${min} to ${max}`), v.transform(Number)),
    ]),
    v.integer(`must be a whole number from ${min} to ${max}`),
    v.minValue(min, `must be a whole number from ${min} to ${max}`),
    v.maxValue(max, `must be a whole number from ${min} to ${max}`),
  );

export const FITS = ["cover", "contain", "fill", "scale-down"] as const;
export type NativeFit = (typeof FITS)[number];

/** The options a URL or a preset may set. Presets are validated with this same schema. */
export const NativeParams = v.strictObject(
  {
    w: v.optional(int(1, 10000)),
    h: v.optional(int(1, 10000)),
    fit: v.optional(v.picklist(FITS, "must be cover, contain, fill or scale-down")),
    q: v.optional(int(1, 100)),
    size: v.optional(v.picklist(["s", "m", "l"], "must be s, m or l")),
    frame: v.optional(int(0, 9999)),
    format: v.optional(
      v.picklist(
        ["auto", "webp", "avif", "jpeg", "jpg", "png", "jxl", "gif", "tiff"],
        "must be auto, webp, avif, jpeg, png, jxl, gif or tiff",
      ),
    ),
  },
  "is not an option (w, h, fit, q, size, format, frame)",
);
export type NativeParams = v.InferOutput<typeof NativeParams>;

const SHORT_EDGE = { s: 320, m: 640, l: 1080 } as const;

/** How each native fit maps onto the pipeline's fits. */
const FIT: Record<NativeFit, { fit: Fit; enlarge: boolean }> = {
  cover: { fit: "cover", enlarge: true },
  contain: { fit: "inside", enlarge: true },
  fill: { fit: "fill", enlarge: true },
  "scale-down": { fit: "inside", enlarge: false },
};

/** Two spellings of one thing: giving both is a 400, not a guess. */
const SAME_AS: Record<string, string> = {
  sig: "token",
  token: "sig",
  exp: "expires",
  expires: "exp",
  f: "format",
  format: "f",
};

export interface NativeQuery {
  params: Record<string, string>;
  preset?: string;
  token?: string;
  expires?: string;
}

/** Splits a delivery query: options, one `p:name`, and the signature; repeats and unknowns are 400. */
export function splitQuery(search: URLSearchParams, extra: readonly string[] = []): NativeQuery {
  const q: NativeQuery = { params: {} };
  const seen = new Set<string>();
  for (const [key, value] of search) {
    if (seen.has(key)) throw invalid(key, "given more than once");
    seen.add(key);
    const other = SAME_AS[key];
    if (other && seen.has(other)) throw invalid(key, `${other} and ${key} both given; use one`);
    if (key.startsWith("p:")) {
      if (q.preset !== undefined) throw new AppError("VALIDATION_ERROR", "p: only one preset per URL", { field: key });
      q.preset = key.slice(2);
    } else if (key === "token" || key === "expires") {
      q[key] = value;
    } else if (key === "sig" || key === "exp") {
      // img-src's authentication page writes signed URLs with these names.
      q[key === "sig" ? "token" : "expires"] = value;
    } else if (key === "f") {
      q.params.format = value;
    } else if (key in NativeParams.entries || extra.includes(key)) {
      q.params[key] = value;
    } else {
      throw new AppError(
        "VALIDATION_ERROR",
        `${key}: unknown option (w, h, fit, q, size, format or f, frame, p:name)`,
        {
          field: key,
        },
      );
    }
  }
  return q;
}

/** `prefix` names where the options came from in error messages ("params" for a preset body). */
export function parseParams(input: Record<string, unknown>, prefix?: string): NativeParams {
  const r = v.safeParse(NativeParams, input);
  if (r.success) return r.output;
  const issue = r.issues[0];
  const key = issue.path?.map((p) => String(p.key)).join(".") ?? "";
  const field = [prefix, key].filter(Boolean).join(".") || "query";
  throw invalid(field, `${issue.message}`);
}

export interface Defaults {
  fit: string;
  quality: number;
  maxWidth: number | null;
  maxHeight: number | null;
}

/**
 * Turns URL options (over a preset's) into a canonical spec, or `null` when the stored bytes
 * answer the request as they are. `requestedFormat` is null when the URL names no conversion.
 */
export function nativeSpec(
  params: NativeParams,
  preset: NativeParams | undefined,
  requestedFormat: OutputFormat | null,
  src: Source,
  defaults: Defaults,
): TransformSpec | null {
  const p = { ...preset, ...params };
  if (p.size && (p.w !== undefined || p.h !== undefined)) {
    throw invalid("size", "cannot be combined with w or h");
  }
  // A preset's format applies unless the URL's extension asks for a conversion.
  const presetFormat = preset?.format ? EXT_FORMAT[preset.format] : undefined;
  // A source browsers do not show, asked for by its own extension (photo.tiff), is converted
  // like one asked for with no extension: the URL names the file, not an output format.
  if (requestedFormat === src.format && !WEB_FORMATS.has(src.format)) requestedFormat = null;
  const conversion = requestedFormat !== null && requestedFormat !== src.format ? requestedFormat : null;
  const format: OutputFormat | null = conversion ?? presetFormat ?? requestedFormat;
  const sourceIsOutput = src.format in EXT_FORMAT && WEB_FORMATS.has(src.format);
  const resizes = p.w !== undefined || p.h !== undefined || p.size !== undefined;
  if (
    !resizes &&
    p.q === undefined &&
    p.frame === undefined &&
    (format === null || format === src.format) &&
    sourceIsOutput
  ) {
    return null;
  }
  const fitName = (p.fit ?? (FITS.includes(defaults.fit as NativeFit) ? defaults.fit : "contain")) as NativeFit;
  let spec: TransformSpec = {
    ...FIT[fitName],
    gravity: "centre",
    format: format ?? (src.format === "svg" ? "png" : "webp"),
    quality: p.q ?? defaults.quality,
    keepMetadata: false,
    ...(p.frame !== undefined && { frame: p.frame }),
  };
  if (p.size) {
    const edge = SHORT_EDGE[p.size];
    // Short edge, never upscaled: a smaller source is only converted.
    if (Math.min(src.width, src.height) > edge) {
      spec = {
        ...spec,
        fit: "inside",
        enlarge: false,
        ...(src.width <= src.height ? { width: edge } : { height: edge }),
      };
    }
  } else if (resizes) {
    spec = { ...spec, width: p.w, height: p.h };
  } else if (defaults.maxWidth || defaults.maxHeight) {
    spec = {
      ...spec,
      fit: "inside",
      enlarge: false,
      width: defaults.maxWidth ?? undefined,
      height: defaults.maxHeight ?? undefined,
    };
  }
  // A fit only matters with a box; without one every fit means "as it is".
  if (spec.width === undefined || spec.height === undefined) spec = { ...spec, fit: "inside" };
  if (spec.width === undefined && spec.height === undefined) spec = { ...spec, enlarge: false };
  return spec;
}

const stripAuto = (p: NativeParams): NativeParams => (p.format === "auto" ? { ...p, format: undefined } : p);

/** Whether a `/i/` URL asks for a negotiated format (`.auto`, `f=auto`, `format=auto`, imgix's `auto=format`). */
export const nativeNegotiates = (path: string, search: URLSearchParams) =>
  path.endsWith(".auto") ||
  search.get("f") === "auto" ||
  search.get("format") === "auto" ||
  (search.get("auto")?.includes("format") ?? false);

/**
 * The key of a native URL among remembered answers: the user, the path and the query as sent,
 * and for a negotiated format what the client accepts (never the raw header). `varies`: the
 * caller's `nativeNegotiates(path, search)` when it has one (the hot path does).
 */
export const nativeHotKey = (
  username: string,
  path: string,
  search: URLSearchParams,
  accept: string | null | undefined,
  varies = nativeNegotiates(path, search),
) => `${username}/${path}?${search}${varies ? `#${acceptClass(accept)}` : ""}`;

/** A native `/i/` URL read once: its parts, whether it negotiates, and its key among remembered answers. */
export interface NativeUrl {
  username: string;
  path: string;
  search: URLSearchParams;
  varies: boolean;
  hotKey: string;
}

export function nativeUrl(
  username: string,
  path: string,
  search: URLSearchParams,
  accept: string | null | undefined,
): NativeUrl {
  const varies = nativeNegotiates(path, search);
  return { username, path, search, varies, hotKey: nativeHotKey(username, path, search, accept, varies) };
}

/**
 * What a native query asks (IMGD_TRANSFORMS): nothing beyond the signature is the original; one
 * `p:name`, or img.pro's `size=s|m|l` alone, is a preset; anything else is options.
 */
export function nativeAsks(search: URLSearchParams): Asks {
  const keys = [...search.keys()].filter((k) => !SIGNATURE_KEYS.includes(k));
  if (keys.length === 0) return "original";
  if (keys.length === 1 && (keys[0].startsWith("p:") || (keys[0] === "size" && /^[sml]$/.test(search.get("size")!))))
    return "preset";
  return "options";
}

/**
 * A native delivery URL (`/i/{username}/{path}?…`) as a delivery request. The same URL
 * options serve AssetsRepo's `GET /api/images/{path}` (access `owner`, a view counted).
 * `remember`: public answers are kept for the hot path under the URL's key.
 */
export function nativeDelivery(
  ask: DeliveryAsk,
  opts: { access: "signed" | "owner"; countView?: boolean; notFound?: string; remember?: boolean } = {
    access: "signed",
  },
): DeliveryRequest<NativeQuery> {
  const { username, path, search } = ask;
  const varies = ask.varies ?? nativeNegotiates(path, search);
  return {
    username,
    path,
    search,
    access: opts.access,
    requester: ask.requester,
    asks: nativeAsks(search),
    countView: opts.countView,
    notFound: opts.notFound,
    ifNoneMatch: ask.ifNoneMatch,
    accept: ask.accept,
    varies,
    hotKey: opts.remember ? (ask.hotKey ?? nativeHotKey(username, path, search, ask.accept, varies)) : undefined,
    hotLooked: ask.hotLooked,
    url: ask.url,
    options: () => splitQuery(search),
    spec: async ({ user, image, preset, negotiate }, query) => {
      const presetRow = query.preset !== undefined ? await preset(query.preset) : undefined;
      if (query.preset !== undefined && !presetRow)
        throw new AppError("NOT_FOUND", `No preset named '${query.preset}'`);
      const presetParams = presetRow ? parseParams(presetRow.params, `preset ${presetRow.name}`) : undefined;
      const params = parseParams(query.params);
      const ext = extensionOf(path);
      if (ext !== "auto") checkWritableExtension(ext, image.format);
      let requested = ext ? (EXT_FORMAT[ext] ?? null) : null;
      // `format` in the URL (or `f`) names a conversion as the extension does; `auto` (here, in
      // the extension, or in the preset when the URL names none) negotiates it.
      const named = params.format ?? (requested === null && ext !== "auto" ? presetParams?.format : undefined);
      const negotiated = ext === "auto" || named === "auto";
      if (negotiated) requested = negotiate();
      else if (params.format) requested = EXT_FORMAT[params.format] ?? null;
      const spec = nativeSpec(params, presetParams && stripAuto(presetParams), requested, image, {
        fit: user.default_fit_mode,
        quality: user.default_quality,
        maxWidth: user.default_max_width,
        maxHeight: user.default_max_height,
      });
      return { spec, presetId: presetRow?.id, varyAccept: negotiated };
    },
  };
}

/**
 * `/i/{username}/{path}?placeholder`: the image's blurred placeholder. Only a signature may
 * come with it (a private image's placeholder is as private as the image).
 */
export function placeholderDelivery({
  username,
  path,
  search,
  ifNoneMatch,
  requester,
}: DeliveryAsk): DeliveryRequest<undefined> {
  return {
    username,
    path,
    search,
    access: "signed",
    requester,
    // One fixed tiny rendition per image, as bounded as the original.
    asks: "original",
    ifNoneMatch,
    options: () => {
      for (const [key, value] of search) {
        if (key === "placeholder") {
          if (!["", "true", "1"].includes(value))
            throw new AppError("VALIDATION_ERROR", "placeholder: takes no value (?placeholder)", { field: key });
        } else if (!SIGNATURE_KEYS.includes(key)) {
          throw invalid(key, "cannot be combined with placeholder");
        }
      }
      return undefined;
    },
    spec: () => ({ spec: null }),
  };
}
