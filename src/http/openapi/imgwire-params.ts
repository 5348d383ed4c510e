import * as v from "valibot";
import { ALIASES } from "../../domain/delivery/imgwire.ts";

// Imgwire's URL parameters as the CDN route's query: each by its canonical name, its aliases
// and values said in its description (reference/imgwire/url-parameters.md). The names come from
// the parser itself, so a parameter it gains without a description here fails the build of the
// document instead of going undocumented.

const VALUES: Record<string, string> = {
  adjust: "brightness[:saturation[:color]] or a JSON object",
  background: "a color",
  background_alpha: "0..1",
  blur: "true, or a sigma 0.3..100",
  brightness: "0.01..10",
  chroma_subsampling: "4:4:4, 4:2:2 or auto",
  color_profile: "srgb, rgb16, cmyk, keep or preserve",
  colorize: "a color",
  contrast: "multiplier[:pivot] or a JSON object",
  crop: "width:height[:gravity], x:y:width:height[:gravity], or a JSON object",
  dpi: "an integer 1..600",
  dpr: "0.01..8",
  duotone: "shadowColor:highlightColor or a JSON object",
  enlarge: "a boolean",
  extend: "top[:right[:bottom[:left[:background]]]] or a JSON object",
  extend_aspect_ratio: "a ratio, width:height, or a JSON object",
  flip: "vertical, horizontal, both, or legacy horizontalBool:verticalBool",
  format: "auto (negotiated from Accept, as when absent), jpg, jpeg, png, webp, avif, gif or tiff",
  gradient: "color1,color2[,colorN][:angle[:opacity[:blend]]] or a JSON object",
  gravity: "a gravity",
  height: "an integer 1..8192",
  hue: "a number (degrees)",
  keep_copyright: "a boolean",
  lightness: "0.01..10",
  "min-height": "an integer 1..8192",
  "min-width": "an integer 1..8192",
  monochrome: "true, false (no-op) or a color",
  negate: "true or alpha:boolean",
  normalize: "a boolean or lower:upper",
  padding: "all, x:y, top:x:bottom, top:right:bottom:left, or a JSON object",
  page: "the frame or page of an animated or multi-page image, an integer 0..9999",
  pixelate: "an integer 2..256",
  progressive: "a boolean or auto",
  quality: "an integer 1..100 or auto",
  resizing_algorithm: "nearest, cubic, mitchell, lanczos2 or lanczos3",
  resizing_type: "cover, contain, fill, inside or outside (legacy fit, fill-down and auto: inside; force: fill)",
  rotate: "angle, angle:background, or a JSON object",
  saturation: "0.01..10",
  sharpen: "true, a sigma, or a JSON object",
  strip_color_profile: "a boolean",
  strip_metadata: "a boolean",
  watermark: "image_id[:gravity[:x[:y]]] or a JSON object with image_id",
  watermark_position: "gravity[:x[:y[:opacity[:blend]]]] or a JSON object",
  watermark_rotate: "angle, angle:background, or a JSON object",
  watermark_shadow: "true, color[:blur[:x[:y]]], or a JSON object",
  watermark_size: "width[:height[:scale]] or a JSON object",
  watermark_text: "a text or a JSON object",
  watermark_url: "a base64-encoded public HTTPS URL",
  width: "an integer 1..8192",
  zoom: "factor or factor:gravity",
};

const GRAVITY =
  " Gravities: ce/center, north…southwest (n, s, e, w, ne, se, nw, sw and no, so, ea, we, noea, …), attention, entropy; ce:sm = attention.";
const COLOR = " Colors: rgb, rrggbb or rrggbbaa (optionally %23-prefixed), or r:g:b[:a].";

/** Imgwire's URL parameters, each at most once by any one of its names (two names of one are a 400). */
export function imgwireCdnQuery() {
  const entries: Record<string, v.OptionalSchema<v.GenericSchema, undefined>> = {};
  for (const [name, aliases] of Object.entries(ALIASES)) {
    const values = VALUES[name];
    if (!values)
      throw new Error(`Imgwire URL parameter ${name} has no description in src/http/openapi/imgwire-params.ts`);
    const others = aliases.filter((a) => a !== name);
    const more = values.includes("gravity") ? GRAVITY : /colou?r/i.test(values) ? COLOR : "";
    const text = `${values[0].toUpperCase()}${values.slice(1)}.${others.length ? ` Also written ${others.join(", ")}.` : ""}${more}`;
    entries[name] = v.optional(v.pipe(v.string(), v.description(text)));
  }
  // imgd's own: a signed Imgwire CDN URL (a private image, or more than IMGD_TRANSFORMS lets unsigned URLs ask).
  entries.token = v.optional(
    v.pipe(
      v.string(),
      v.description(
        'imgd\'s own: the signature of a signed URL, over the path (with its @preset) and every parameter: POST /api/v1/images/{id}/signed-url with "dialect": "imgwire" makes one',
      ),
    ),
  );
  entries.expires = v.optional(v.pipe(v.string(), v.description("Unix seconds the signed URL expires at")));
  return v.object(entries);
}
