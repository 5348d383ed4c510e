import type { OutputFormat } from "../../../codecs/types.ts";
import { AppError, invalid } from "../errors.ts";
import type { DeliveryAsk, DeliveryRequest, DeliverySpec, SpecContext } from "./request.ts";
import { fromNativePreset, imgwireSpec, splitImgwireQuery } from "./imgwire.ts";
import { parseParams } from "./native.ts";
import { acceptClass, deliveryFormatsOf } from "./negotiate.ts";
import { WEB_FORMATS } from "./spec.ts";

// The URL shapes other tools already speak (IPX, Cloudflare, imgix, Next.js) are each a small
// table from their words onto Imgwire's URL parameters, whose grammar is the widest way into
// the canonical spec. So an IPX `w_200,f_webp` and an Imgwire `?w=200&format=webp` are one
// spec, one cache key and one variant; each shape only words its own errors.

/** One option as the shape's URL wrote it, mapped to an Imgwire parameter. */
export interface Mapped {
  /** Imgwire parameter → value. */
  params: Map<string, string>;
  /** Imgwire parameter → the option's name in the shape's URL (for error messages). */
  names: Map<string, string>;
}

export const mapped = (): Mapped => ({ params: new Map(), names: new Map() });

/** Sets an Imgwire parameter from a shape's option; a second option setting it is a 400. */
export function put(m: Mapped, param: string, value: string, from: string) {
  const prev = m.names.get(param);
  if (prev !== undefined && prev !== from) throw invalid(from, `${prev} and ${from} both set ${param}; use one`);
  m.params.set(param, value);
  m.names.set(param, from);
}

/** A plain non-negative number, as the shapes write strengths and radii. */
export const NUMBER = /^\d+(\.\d+)?$/;

/** A shape's options segment, percent-decoded; bad encoding is a 400 naming `option`. */
export function decodeOptions(segment: string, option: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalid(option, "is not valid percent-encoding");
  }
}

/** How a shape's fit maps onto Imgwire's resizing type, and whether it may enlarge. */
export interface FitMapping {
  resizing_type: string;
  enlarge: boolean;
}

export function putFit(m: Mapped, f: FitMapping) {
  put(m, "resizing_type", f.resizing_type, "fit");
  if (f.enlarge) put(m, "enlarge", "true", "fit");
}

/** The key of a shape's URL among remembered answers: the URL, and the Accept class when negotiated. */
export const compatHotKey = (pathAndQuery: string, m: Mapped, accept: string | null | undefined) =>
  `${pathAndQuery}#${m.params.get("format") === "auto" ? acceptClass(accept) : ""}`;

/** Which format a shape sends when its URL names none and does not negotiate. */
export type DefaultFormat = (sourceFormat: string) => OutputFormat;

/** The source's own format where browsers show it, else JPEG (IPX's and Cloudflare's rule). */
export const keepSourceFormat: DefaultFormat = (f) => (WEB_FORMATS.has(f) ? (f as OutputFormat) : "jpeg");

/**
 * A delivery request for a compatible shape: public images only unless the shape lives on
 * `/i/` (imgix options, signed like native ones); negotiated when `m` has `format=auto`.
 */
export function compatDelivery(
  ask: DeliveryAsk,
  opts: {
    mapped: Mapped;
    defaultFormat: DefaultFormat;
    /** Remember the answer under this key (see `compatHotKey`). */
    hotKey?: string;
    /** `signed`: a private image needs a signature of the query (imgix options on `/i/`). */
    access?: "public" | "signed";
    /** The operator's key signed the URL (see AccessRequest). */
    vouched?: boolean;
    /** The tenant's presets the URL names (imgproxy's `pr`), applied in order under its own options. */
    presets?: readonly string[];
  },
): DeliveryRequest<undefined> {
  const { params, names } = opts.mapped;
  const varies = params.get("format") === "auto";
  return {
    username: ask.username,
    path: ask.path,
    access: opts.access ?? "public",
    vouched: opts.vouched,
    search: ask.search,
    requester: ask.requester,
    // A shape's URL without options (IPX's `_`) is the image as it is; the rest are options.
    asks: params.size > 0 ? "options" : opts.presets?.length ? "preset" : "original",
    ifNoneMatch: ask.ifNoneMatch,
    accept: ask.accept,
    varies,
    hotKey: opts.hotKey,
    hotLooked: ask.hotLooked,
    url: ask.url,
    spec: (ctx) => {
      const make = (preset?: Record<string, string>, presetId?: string): DeliverySpec => {
        const { user, image } = ctx;
        const query = new URLSearchParams([...params]);
        if (!params.has("format") && !preset?.format) query.set("format", opts.defaultFormat(image.format));
        try {
          const { spec, autoFormat } = imgwireSpec(splitImgwireQuery(query), preset, image, {
            accept: ask.accept ?? undefined,
            defaultQuality: user.default_quality,
            deliveryFormats: deliveryFormatsOf(user.delivery_formats),
          });
          return { spec, varyAccept: autoFormat, presetId };
        } catch (err) {
          // Worded in the shape's own option names.
          const field = err instanceof AppError ? err.extra.field : undefined;
          const from = field && names.get(field);
          if (err instanceof AppError && from && field && from !== field && err.message.startsWith(`${field}:`)) {
            throw new AppError(err.code, `${from}:${err.message.slice(field.length + 1)}`, { field: from });
          }
          throw err;
        }
      };
      return opts.presets?.length ? presetsOf(ctx, opts.presets).then((p) => make(p.params, p.id)) : make();
    },
  };
}

/** The tenant's presets a URL names, merged in order (a later one's parameters win), in Imgwire's words. */
async function presetsOf(
  ctx: SpecContext,
  names: readonly string[],
): Promise<{ params: Record<string, string>; id?: string }> {
  let params: Record<string, string> = {};
  let id: string | undefined;
  for (const name of names) {
    const row = await ctx.preset(name);
    if (!row) throw new AppError("NOT_FOUND", `No preset named '${name}'`);
    params = { ...params, ...fromNativePreset(parseParams(row.params, `preset ${row.name}`)) };
    id ??= row.id;
  }
  return { params, id };
}
