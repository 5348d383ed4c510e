import type { OutputFormat } from "../../../codecs/types.ts";
import type { Source } from "./spec.ts";

// Format negotiation (`format=auto`, `f=auto`, `.auto`, imgix `auto=format`, IPX `f_auto`,
// Cloudflare `format=auto`, Next.js): the tenant's `delivery_formats`, in its order, filtered
// by what the client says it accepts. JPEG and PNG every client shows, so they need no mention
// in Accept; AVIF, WebP and JPEG XL only count when named (a `*/*` from curl names none of them).

/** The formats a client names in Accept (with a q above 0), as a short stable text. */
export function acceptClass(accept: string | null | undefined): string {
  if (!accept) return "";
  const a = accept.toLowerCase();
  let out = "";
  if (names(a, "image/avif")) out += "a";
  if (names(a, "image/webp")) out += "w";
  if (names(a, "image/jxl")) out += "x";
  return out;
}

function names(accept: string, type: string): boolean {
  const at = accept.indexOf(type);
  if (at < 0) return false;
  // `image/webp;q=0` refuses it.
  const end = accept.indexOf(",", at);
  const item = accept.slice(at + type.length, end < 0 ? undefined : end);
  return !/;\s*q\s*=\s*0(\.0*)?\s*$/.test(item);
}

const NEEDS_ACCEPT: Partial<Record<OutputFormat, string>> = { avif: "a", webp: "w", jxl: "x" };

/**
 * The output format for a negotiated request: the first of the tenant's `delivery_formats`
 * the client accepts; JPEG (PNG for a PNG or GIF source, which may be transparent) when none is.
 */
export function negotiate(
  accept: string | null | undefined,
  deliveryFormats: readonly string[],
  src: Source,
): OutputFormat {
  const accepted = acceptClass(accept);
  const fallback: OutputFormat = src.format === "png" || src.format === "gif" ? "png" : "jpeg";
  for (const f of deliveryFormats) {
    if (f === "jpeg" || f === "png") return fallback === "png" || f === "png" ? "png" : "jpeg";
    const needs = NEEDS_ACCEPT[f as OutputFormat];
    if (needs && accepted.includes(needs)) return f as OutputFormat;
  }
  return fallback;
}

/** A tenant's stored `delivery_formats`, tolerant of a bad value. */
export function deliveryFormatsOf(stored: unknown): string[] {
  return Array.isArray(stored) && stored.length ? stored.map(String) : ["webp", "avif", "jpeg"];
}
