import { extensionOf } from "../library/paths.ts";
import {
  compatDelivery,
  type FitMapping,
  keepSourceFormat,
  type Mapped,
  mapped,
  NUMBER,
  put,
  putFit,
} from "./compat.ts";
import type { DeliveryAsk, DeliveryRequest } from "./request.ts";
import { nativeHotKey } from "./native.ts";
import { SIGNATURE_KEYS } from "./signing.ts";
import { EXT_FORMAT } from "./spec.ts";
import { invalid } from "../errors.ts";

// imgix query parameters on native `/i/` URLs (`?w=400&fit=crop&crop=top&auto=format`): the
// subset that maps cleanly onto Imgwire parameters (compat.ts); the rest is a 400 naming it.

/** Keys only imgix uses, or fits only imgix names: either makes a native URL an imgix one. */
const IMGIX_ONLY = new Set(["fm", "auto", "crop", "dpr", "blur", "sharp", "s", "ixlib"]);
/** imgix's signature (checked before, IMGD_IMGIX_TOKEN) and its builders' library tag: no option. */
const IMGIX_NOT_OPTIONS = new Set(["s", "ixlib"]);
const IMGIX_FITS: Record<string, FitMapping> = {
  clip: { resizing_type: "inside", enlarge: true },
  max: { resizing_type: "inside", enlarge: false },
  crop: { resizing_type: "cover", enlarge: true },
  min: { resizing_type: "cover", enlarge: false },
  scale: { resizing_type: "fill", enlarge: true },
};
const NATIVE_FITS = new Set(["cover", "contain", "fill", "scale-down"]);
/** imgix fits without a clean counterpart: still imgix, so its parser words the 400. */
const UNMAPPED_FITS = new Set(["facearea", "fillmax", "clamp"]);

/** Whether a `/i/` query speaks imgix rather than the native options. */
export function isImgixQuery(search: URLSearchParams): boolean {
  for (const [k, v] of search) {
    if (IMGIX_ONLY.has(k)) return true;
    if (k === "fit" && !NATIVE_FITS.has(v) && (v in IMGIX_FITS || UNMAPPED_FITS.has(v))) return true;
  }
  return false;
}

const CROP_SIDES = new Set(["top", "bottom", "left", "right"]);
const FORMATS: Record<string, string> = {
  jpg: "jpeg",
  jpeg: "jpeg",
  pjpg: "jpeg",
  png: "png",
  webp: "webp",
  avif: "avif",
  gif: "gif",
};

/** Parses an imgix query (the signature keys are left to the signed-URL check). */
export function parseImgixQuery(search: URLSearchParams): Mapped {
  const m = mapped();
  let fit = "clip";
  let autoFormat = false;
  const seen = new Set<string>();
  for (const [name, value] of search) {
    if (SIGNATURE_KEYS.includes(name) || IMGIX_NOT_OPTIONS.has(name)) continue;
    if (seen.has(name)) throw invalid(name, "given more than once");
    seen.add(name);
    switch (name) {
      case "w":
        put(m, "width", value, name);
        break;
      case "h":
        put(m, "height", value, name);
        break;
      case "q":
        put(m, "quality", value, name);
        break;
      case "dpr":
        put(m, "dpr", value, name);
        break;
      case "fit":
        if (!IMGIX_FITS[value])
          throw invalid(
            name,
            `must be ${Object.keys(IMGIX_FITS).join(", ")} (facearea, fill, fillmax and clamp are not supported)`,
          );
        fit = value;
        break;
      case "crop": {
        const parts = value.split(",").map((p) => p.trim().toLowerCase());
        if (parts.length === 1 && parts[0] === "entropy") {
          put(m, "gravity", "entropy", name);
          break;
        }
        if (!parts.every((p) => CROP_SIDES.has(p)))
          throw invalid(
            name,
            "must be top, bottom, left, right (comma-separated) or entropy; faces, edges and focalpoint are not supported",
          );
        const ns = parts.includes("top") ? "north" : parts.includes("bottom") ? "south" : "";
        const ew = parts.includes("left") ? "west" : parts.includes("right") ? "east" : "";
        put(m, "gravity", ns + ew || "centre", name);
        break;
      }
      case "fm": {
        const f = FORMATS[value.toLowerCase()];
        if (!f) throw invalid(name, "must be jpg, pjpg, png, webp, avif or gif");
        put(m, "format", f, name);
        break;
      }
      case "auto":
        for (const a of value.split(",").map((x) => x.trim())) {
          if (a === "format") autoFormat = true;
          // compress lowers quality at imgix's discretion; imgd keeps the tenant's quality.
          else if (a !== "compress") throw invalid(name, "must be format and/or compress");
        }
        break;
      case "blur": {
        // imgix's strength 0–2000; a Gaussian sigma of a twentieth of it looks alike.
        if (!NUMBER.test(value) || Number(value) > 2000) throw invalid(name, "must be a number from 0 to 2000");
        if (Number(value) > 0) put(m, "blur", String(Math.max(0.3, Number(value) / 20)), name);
        break;
      }
      case "sharp": {
        if (!NUMBER.test(value) || Number(value) > 100) throw invalid(name, "must be a number from 0 to 100");
        if (Number(value) > 0) put(m, "sharpen", String(Math.max(0.3, Number(value) / 20)), name);
        break;
      }
      default:
        throw invalid(name, "is not an imgix parameter imgd maps (w, h, fit, crop, fm, q, auto, dpr, blur, sharp)");
    }
  }
  // imgix: an explicit fm wins over auto=format.
  if (autoFormat && !m.params.has("format")) put(m, "format", "auto", "auto");
  const f = IMGIX_FITS[fit];
  putFit(m, f);
  if (!f.resizing_type.startsWith("cover")) m.params.delete("gravity");
  return m;
}

/**
 * A `/i/` URL with imgix parameters as a delivery request: signed like a native one when the
 * image is private; without `fm` or `auto=format` the extension names the format, as natively.
 */
export function imgixDelivery(ask: DeliveryAsk, remember: boolean, vouched = false): DeliveryRequest<undefined> {
  const m = parseImgixQuery(ask.search);
  const ext = extensionOf(ask.path);
  if (ext === "auto" && !m.params.has("format")) put(m, "format", "auto", "extension");
  return compatDelivery(ask, {
    mapped: m,
    access: "signed",
    vouched,
    defaultFormat: (src) => (ext && EXT_FORMAT[ext]) || keepSourceFormat(src),
    hotKey: remember ? (ask.hotKey ?? nativeHotKey(ask.username, ask.path, ask.search, ask.accept)) : undefined,
  });
}
