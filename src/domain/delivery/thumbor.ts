import { invalid } from "../errors.ts";
import { type Mapped, mapped, NUMBER, put } from "./compat.ts";

// thumbor URLs (`/{hmac|unsafe}/[trim/][AxB:CxD/][fit-in/][-]Ex[-]F/[halign/][valign/][smart/]
// [filters:…/]{image}`), each part onto an Imgwire parameter (compat.ts). thumbor crops to fill
// the box and enlarges unless told otherwise (`no_upscale()`); `fit-in` fits inside and does
// not enlarge (unless `upscale()`). What imgd cannot honour is a 400 naming it.

export interface ThumborUrl {
  /** The first segment: the HMAC, or `unsafe`. */
  signature: string;
  /** What the HMAC covers: the path after it, without its leading `/`, as the URL writes it. */
  signed: string;
  mapped: Mapped;
  /** The image as the URL carries it (still percent-encoded). */
  source: string;
}

const HALIGN: Record<string, string> = { left: "west", center: "", right: "east" };
const VALIGN: Record<string, string> = { top: "north", middle: "", bottom: "south" };
const SIZE = /^(-)?(\d+|orig)?x(-)?(\d+|orig)?$/;
const CROP = /^(\d+)x(\d+):(\d+)x(\d+)$/;
const FORMATS = new Set(["jpeg", "jpg", "png", "webp", "avif", "gif"]);

const FILTERS = "format, quality, blur, grayscale, fill, rotate, no_upscale, upscale, strip_exif, strip_icc";

/** Splits a thumbor path (after `/thumbor`) into its signature, options and image. */
export function parseThumborPath(rawPath: string): ThumborUrl {
  const segments = rawPath.replace(/^\/+/, "").split("/");
  const signature = segments.shift() ?? "";
  if (!signature || segments.length === 0) throw invalid("path", "expected /thumbor/{hmac|unsafe}/…/{image}");
  const signed = segments.join("/");
  const m = mapped();
  let i = 0;
  const next = (test: (s: string) => boolean) =>
    segments[i] !== undefined && test(segments[i]) ? segments[i++] : null;
  if (next((s) => s === "meta")) throw invalid("meta", "JSON metadata is not served here; GET /api/v1/images/{id}");
  if (next((s) => s === "trim" || s.startsWith("trim:"))) throw invalid("trim", "trimming borders is not supported");
  const crop = next((s) => CROP.test(s));
  if (crop) {
    const [, l, t, r, b] = CROP.exec(crop)!.map(Number);
    if (r! - l! < 2 || b! - t! < 2) throw invalid("crop", "the crop window must be at least 2 pixels each way");
    put(m, "crop", `${l}:${t}:${r! - l!}:${b! - t!}`, "crop");
  }
  const fitIn = next((s) => /^(adaptive-|full-)?fit-in$/.test(s));
  if (fitIn && fitIn !== "fit-in") throw invalid(fitIn, "only plain fit-in is supported");
  const size = next((s) => SIZE.test(s));
  let flip: { h: boolean; v: boolean } | undefined;
  if (size) {
    const [, fh, w, fv, h] = SIZE.exec(size)!;
    if (w === "orig" || h === "orig") throw invalid("size", "orig is not supported; give 0 for a proportional side");
    if (w && w !== "0") put(m, "width", w, "width");
    if (h && h !== "0") put(m, "height", h, "height");
    if (fh || fv) flip = { h: Boolean(fh), v: Boolean(fv) };
  }
  const halign = next((s) => s in HALIGN);
  const valign = next((s) => s in VALIGN);
  const smart = next((s) => s === "smart");
  const filters = next((s) => s.startsWith("filters:"));
  const source = segments.slice(i).join("/");
  if (!source) throw invalid("image", "is missing: the URL ends with the image, e.g. i/admin/photo.jpg");

  let enlarge = !fitIn;
  if (filters) enlarge = applyFilters(m, filters.slice("filters:".length), enlarge, Boolean(fitIn));
  // Without a size there is nothing to fit, align or enlarge: the image as it is (or filtered).
  if (!m.params.has("width") && !m.params.has("height")) {
    if (flip) put(m, "flip", `${flip.h ? "t" : "f"}:${flip.v ? "t" : "f"}`, "size");
    return { signature, signed, mapped: m, source };
  }
  put(m, "resizing_type", fitIn ? (m.params.has("background") ? "contain" : "inside") : "cover", "fit-in");
  if (enlarge) put(m, "enlarge", "true", fitIn ? "upscale" : "size");
  const g = smart ? "attention" : `${VALIGN[valign ?? "middle"]}${HALIGN[halign ?? "center"]}`;
  if (g) put(m, "gravity", g, smart ? "smart" : "align");
  if (flip) put(m, "flip", `${flip.h ? "t" : "f"}:${flip.v ? "t" : "f"}`, "size");
  return { signature, signed, mapped: m, source };
}

/** `name(args):name(args)…`; returns whether the image may be enlarged. */
function applyFilters(m: Mapped, text: string, enlarge: boolean, fitIn: boolean): boolean {
  const re = /([a-z_]+)\(([^)]*)\)(?::|$)/gy;
  let match: RegExpExecArray | null;
  let end = 0;
  while ((match = re.exec(text))) {
    end = re.lastIndex;
    const [, name, rawArgs] = match as unknown as [string, string, string];
    const args = rawArgs.split(",").map((a) => a.trim());
    const arg = args[0] ?? "";
    switch (name) {
      case "format": {
        const f = arg.toLowerCase();
        if (!FORMATS.has(f)) throw invalid(name, `must be ${[...FORMATS].join(", ")}`);
        put(m, "format", f, name);
        break;
      }
      case "quality":
        put(m, "quality", arg, name);
        break;
      case "blur": {
        // thumbor's radius, and its sigma (the radius when not given).
        const sigma = args[1] || arg;
        if (!NUMBER.test(sigma)) throw invalid(name, "expected blur(radius[,sigma])");
        if (Number(sigma) > 0) put(m, "blur", String(Math.max(0.3, Number(sigma))), name);
        break;
      }
      case "grayscale":
        put(m, "monochrome", "true", name);
        break;
      case "fill":
        if (!fitIn) throw invalid(name, "fill() pads a fit-in image; add fit-in/");
        if (!/^#?[0-9a-f]{3}([0-9a-f]{3})?$/i.test(arg))
          throw invalid(name, "imgd fills with a hex colour, e.g. fill(ff0000)");
        put(m, "background", arg.replace(/^#/, ""), name);
        break;
      case "rotate":
        if (!/^-?\d+$/.test(arg) || Number(arg) % 90 !== 0) throw invalid(name, "must be a multiple of 90");
        // thumbor turns counter-clockwise; imgd's angles are clockwise.
        put(m, "rotate", String((360 - (Number(arg) % 360)) % 360), name);
        break;
      case "no_upscale":
        enlarge = false;
        break;
      case "upscale":
        enlarge = true;
        break;
      case "strip_exif":
        // Metadata is stripped unless asked to keep it: nothing to do.
        break;
      case "strip_icc":
        put(m, "strip_color_profile", "true", name);
        break;
      default:
        throw invalid(name, `is not a thumbor filter imgd supports (${FILTERS})`);
    }
  }
  if (end !== text.length) throw invalid("filters", "expected filters:name(args):name(args)…");
  return enlarge;
}
