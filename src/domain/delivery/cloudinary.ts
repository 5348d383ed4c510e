import { invalid } from "../errors.ts";
import { type FitMapping, type Mapped, mapped, NUMBER, put, putFit } from "./compat.ts";
import { EXT_FORMAT } from "./spec.ts";

// Cloudinary delivery URLs (`/{cloud}/image/upload/{transformations}/v{version}/{public_id}.{ext}`,
// `{cloud}` being the tenant's username): comma-separated `key_value` components, chained
// transformations separated by `/`, mapped onto Imgwire parameters (compat.ts). imgd makes one
// pass, so a chain may cut (`c_crop`) and then resize once; a second resize is a 400.

export interface CloudinaryUrl {
  mapped: Mapped;
  /** Named transformations (`t_name`): the tenant's presets, in order. */
  presets: string[];
  /** The public id with its extension, as the URL carries it (still percent-encoded). */
  publicId: string;
}

/** Cloudinary's crop modes: how each fits, and whether it may enlarge. */
const CROP_MODE: Record<string, FitMapping> = {
  fill: { resizing_type: "cover", enlarge: true },
  lfill: { resizing_type: "cover", enlarge: false },
  fit: { resizing_type: "inside", enlarge: true },
  limit: { resizing_type: "inside", enlarge: false },
  pad: { resizing_type: "contain", enlarge: true },
  lpad: { resizing_type: "contain", enlarge: false },
  thumb: { resizing_type: "cover", enlarge: false },
};

const GRAVITY: Record<string, string> = {
  auto: "attention",
  center: "centre",
  north: "north",
  south: "south",
  east: "east",
  west: "west",
  north_east: "northeast",
  north_west: "northwest",
  south_east: "southeast",
  south_west: "southwest",
};

const COLOURS: Record<string, string> = {
  white: "ffffff",
  black: "000000",
  red: "ff0000",
  green: "008000",
  blue: "0000ff",
  yellow: "ffff00",
  gray: "808080",
  grey: "808080",
  transparent: "ffffff00",
};

const FORMATS = new Set(["auto", "webp", "avif", "jpg", "jpeg", "png", "gif", "tiff"]);

const SUPPORTED = "w, h, c, g, q, f, dpr, e_blur, e_grayscale, a, b, t";

/** Cloudinary's transformation keys (those imgd reads, and the others it refuses by name). */
const KEYS = new Set("w h c g q f dpr e a b t r x y l o fl z ar bo co d dn du eo fn if ki pg so sp u vc vs".split(" "));

/** A transformation segment: every component `key_value` with a key Cloudinary has. */
const isTransformation = (seg: string) =>
  seg !== "" && seg.split(",").every((c) => c.includes("_") && KEYS.has(c.slice(0, c.indexOf("_"))));

/** Splits the path after `/image/upload/` into its transformations, version and public id. */
export function parseCloudinaryPath(rawPath: string): CloudinaryUrl {
  const segments = rawPath.split("/");
  const m = mapped();
  const presets: string[] = [];
  let resized = false;
  let i = 0;
  for (; i < segments.length && isTransformation(segments[i]!); i++) {
    resized = applySegment(m, presets, decodeSegment(segments[i]!), resized);
  }
  if (segments[i] !== undefined && /^v\d+$/.test(segments[i]!)) i++;
  const publicId = segments.slice(i).join("/");
  if (!publicId) throw invalid("public_id", "is missing: the URL ends with the image's public id");
  // The extension asks for a format, unless f_ did.
  const dot = publicId.lastIndexOf(".");
  const ext = dot > publicId.lastIndexOf("/") ? publicId.slice(dot + 1).toLowerCase() : "";
  if (ext && !m.params.has("format")) {
    const f = EXT_FORMAT[ext];
    if (!f) throw invalid("extension", `imgd cannot write .${ext}; use .webp, .avif, .jpg, .png, .gif or .tiff`);
    put(m, "format", f, "extension");
  }
  return { mapped: m, presets, publicId };
}

function decodeSegment(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    throw invalid("transformation", "is not valid percent-encoding");
  }
}

/** One transformation of the chain; returns whether a resize has been made so far. */
function applySegment(m: Mapped, presets: string[], seg: string, resizedBefore: boolean): boolean {
  const c = new Map<string, string>();
  for (const part of seg.split(",")) {
    const at = part.indexOf("_");
    const key = part.slice(0, at);
    if (c.has(key)) throw invalid(key, "given twice in one transformation");
    c.set(key, part.slice(at + 1));
  }
  const mode = c.get("c") ?? (c.has("w") || c.has("h") ? "scale" : undefined);
  const size = (key: "w" | "h") => {
    const v = c.get(key);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw invalid(key, "imgd takes whole pixels here (no fractions, no auto)");
    return v;
  };
  const [w, h] = [size("w"), size("h")];
  let resized = resizedBefore;
  if (mode === "crop") {
    // A region of the original, by gravity: the cut before any resize.
    if (resizedBefore || m.params.has("crop")) throw invalid("c", "c_crop must come first in the chain");
    if (!w || !h) throw invalid("c", "c_crop needs w_ and h_");
    const g = c.has("g") ? gravity(c.get("g")!) : "centre";
    put(m, "crop", `${w}:${h}:${g === "attention" ? "attention" : g}`, "c");
    c.delete("g");
  } else if (mode !== undefined) {
    if (resizedBefore) throw invalid("c", "imgd resizes once per URL: chain at most one resize");
    resized = true;
    if (w) put(m, "width", w, "w");
    if (h) put(m, "height", h, "h");
    if (mode === "scale") putFit(m, w && h ? { resizing_type: "fill", enlarge: true } : CROP_MODE.fit!);
    else if (CROP_MODE[mode]) putFit(m, CROP_MODE[mode]);
    else throw invalid("c", `must be ${["scale", "crop", ...Object.keys(CROP_MODE)].join(", ")}`);
  }
  for (const [key, value] of c) {
    switch (key) {
      case "w":
      case "h":
      case "c":
        break;
      case "g":
        put(m, "gravity", gravity(value), key);
        break;
      case "q": {
        const q = value.startsWith("auto") ? "auto" : value;
        if (q !== "auto" && !/^\d+$/.test(q)) throw invalid(key, "must be 1 to 100 or auto");
        put(m, "quality", q, key);
        break;
      }
      case "f": {
        const f = value.toLowerCase();
        if (!FORMATS.has(f)) throw invalid(key, `must be ${[...FORMATS].join(", ")}`);
        put(m, "format", f, key);
        break;
      }
      case "dpr":
        put(m, "dpr", value, key);
        break;
      case "e":
        effect(m, value);
        break;
      case "a": {
        const flips: Record<string, string> = { hflip: "horizontal", vflip: "vertical" };
        if (flips[value]) put(m, "flip", flips[value]!, key);
        else if (/^-?\d+$/.test(value)) put(m, "rotate", value, key);
        else throw invalid(key, "must be an angle in degrees, hflip or vflip");
        break;
      }
      case "b": {
        const hex = value.startsWith("rgb:") ? value.slice(4) : COLOURS[value.toLowerCase()];
        if (!hex) throw invalid(key, `must be rgb:RRGGBB or a colour name (${Object.keys(COLOURS).join(", ")})`);
        put(m, "background", hex, key);
        break;
      }
      case "t":
        presets.push(value);
        break;
      case "r":
        throw invalid(key, "rounded corners are not supported");
      default:
        throw invalid(key, `is not a Cloudinary transformation imgd supports (${SUPPORTED})`);
    }
  }
  return resized;
}

function gravity(value: string): string {
  const g = GRAVITY[value.toLowerCase()];
  if (!g) throw invalid("g", `must be ${Object.keys(GRAVITY).join(", ")}`);
  return g;
}

function effect(m: Mapped, value: string) {
  const [name, arg] = value.split(":");
  if (name === "grayscale") put(m, "monochrome", "true", "e_grayscale");
  else if (name === "blur") {
    // Cloudinary's strength runs 1–2000 (100 by default); a Gaussian sigma of a twentieth of it.
    const strength = arg === undefined ? 100 : NUMBER.test(arg) ? Number(arg) : NaN;
    if (!(strength >= 1 && strength <= 2000)) throw invalid("e_blur", "strength must be 1 to 2000");
    put(m, "blur", String(Math.max(0.3, strength / 20)), "e_blur");
  } else throw invalid(`e_${name}`, "is not an effect imgd supports (e_blur, e_grayscale)");
}
