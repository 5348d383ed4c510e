import { decodeOptions, type FitMapping, type Mapped, mapped, NUMBER, put, putFit } from "./compat.ts";
import { invalid } from "../errors.ts";

// Cloudflare Images URLs (`/cdn-cgi/image/{options}/{path}`): `key=value` options split by
// commas, mapped onto Imgwire parameters (compat.ts).

/** Cloudflare's fits: how each maps to a resizing type and whether it may enlarge. */
const FIT: Record<string, FitMapping> = {
  "scale-down": { resizing_type: "inside", enlarge: false },
  contain: { resizing_type: "inside", enlarge: true },
  cover: { resizing_type: "cover", enlarge: true },
  crop: { resizing_type: "cover", enlarge: false },
  pad: { resizing_type: "contain", enlarge: true },
  squeeze: { resizing_type: "fill", enlarge: true },
};

const GRAVITY: Record<string, string> = {
  auto: "attention",
  center: "centre",
  centre: "centre",
  top: "north",
  bottom: "south",
  left: "west",
  right: "east",
};

const FORMATS = ["auto", "avif", "webp", "jpeg", "baseline-jpeg", "png"];

const UNSUPPORTED: Record<string, string> = {
  trim: "trimming borders is not supported",
  gamma: "gamma is not supported",
  border: "borders are not supported; use Imgwire's padding on /imgwire/cdn",
  segment: "background removal is not supported",
  zoom: "face zoom is not supported",
};

/** Parses the options segment of a Cloudflare image URL. */
export function parseCloudflareOptions(segment: string): Mapped {
  const m = mapped();
  const decoded = decodeOptions(segment, "options");
  let fit: string | undefined;
  for (const part of decoded.split(",")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    if (eq <= 0) throw invalid(part, "expected key=value, e.g. width=800");
    const name = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    switch (name) {
      case "width":
      case "w":
        put(m, "width", value, name);
        break;
      case "height":
      case "h":
        put(m, "height", value, name);
        break;
      case "dpr":
        put(m, "dpr", value, name);
        break;
      case "quality":
      case "q":
        put(m, "quality", value, name);
        break;
      case "fit":
        if (!FIT[value]) throw invalid(name, `must be ${Object.keys(FIT).join(", ")}`);
        fit = value;
        break;
      case "gravity":
      case "g": {
        const g = GRAVITY[value.toLowerCase()];
        // `0.5x0.5` is the centre; other focal points need Imgwire's fp gravity.
        if (g) put(m, "gravity", g, name);
        else if (/^0?\.5x0?\.5$/.test(value)) put(m, "gravity", "centre", name);
        else throw invalid(name, "must be auto, center, top, bottom, left or right");
        break;
      }
      case "format":
      case "f": {
        const f = value.toLowerCase();
        if (f === "json") throw invalid(name, "json is not supported; GET /api/v1/images/{id} gives the metadata");
        if (!FORMATS.includes(f)) throw invalid(name, `must be ${FORMATS.join(", ")}`);
        put(m, "format", f === "baseline-jpeg" ? "jpeg" : f, name);
        break;
      }
      case "background":
        put(m, "background", value, name);
        break;
      case "rotate":
        if (!["0", "90", "180", "270"].includes(value)) throw invalid(name, "must be 90, 180 or 270");
        if (value !== "0") put(m, "rotate", value, name);
        break;
      case "flip": {
        const f = { h: "horizontal", v: "vertical", hv: "both", vh: "both" }[value.toLowerCase()];
        if (!f) throw invalid(name, "must be h, v or hv");
        put(m, "flip", f, name);
        break;
      }
      case "blur": {
        // Cloudflare's blur is a radius from 1 to 250; a Gaussian's sigma is about half of it.
        if (!NUMBER.test(value) || Number(value) < 1 || Number(value) > 250)
          throw invalid(name, "must be a number from 1 to 250");
        put(m, "blur", String(Math.max(0.3, Number(value) / 2)), name);
        break;
      }
      case "sharpen":
        if (!NUMBER.test(value) || Number(value) > 10) throw invalid(name, "must be a number from 0 to 10");
        if (Number(value) > 0) put(m, "sharpen", value, name);
        break;
      case "brightness":
      case "contrast":
      case "saturation":
        // 1 means unchanged in both vocabularies.
        put(m, name, value, name);
        break;
      case "metadata":
        if (!["keep", "copyright", "none"].includes(value)) throw invalid(name, "must be keep, copyright or none");
        put(m, "strip_metadata", value === "keep" ? "false" : "true", name);
        break;
      case "anim":
        if (!["true", "false"].includes(value)) throw invalid(name, "must be true or false");
        if (value === "false") put(m, "page", "0", name);
        break;
      case "onerror":
      case "compression":
        // How to fail and how fast to encode: no effect on which image is sent.
        break;
      default:
        if (UNSUPPORTED[name]) throw invalid(name, UNSUPPORTED[name]);
        throw invalid(
          name,
          "is not a Cloudflare option imgd knows (width, height, dpr, quality, fit, gravity, format, background, rotate, flip, blur, sharpen, brightness, contrast, saturation, metadata, anim)",
        );
    }
  }
  // Cloudflare's default fit is scale-down: never enlarged.
  putFit(m, FIT[fit ?? "scale-down"]);
  return m;
}
