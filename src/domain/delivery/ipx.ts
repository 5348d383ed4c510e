import { decodeOptions, type Mapped, mapped, NUMBER, put } from "./compat.ts";
import { invalid } from "../errors.ts";

// IPX URLs (`/_ipx/{modifiers}/{path}`, as Nuxt Image and unpic write them): modifiers split by
// `,` or `&`, a name and its arguments split by `_`, `:` or `=` (`w_200`, `s_200x100`,
// `extract_0_0_50_50`); `_` alone means none. Each maps onto an Imgwire parameter (compat.ts).

/** Sharp positions (IPX passes them through) as gravities. */
const POSITION: Record<string, string> = {
  top: "north",
  bottom: "south",
  left: "west",
  right: "east",
  "right top": "northeast",
  "top right": "northeast",
  "left top": "northwest",
  "top left": "northwest",
  "right bottom": "southeast",
  "bottom right": "southeast",
  "left bottom": "southwest",
  "bottom left": "southwest",
};

const FITS = ["cover", "contain", "fill", "inside", "outside"];

/** IPX modifiers imgd has no clean counterpart for: a 400 rather than a silent difference. */
const UNSUPPORTED: Record<string, string> = {
  trim: "trimming borders is not supported",
  median: "the median filter is not supported",
  gamma: "gamma is not supported",
  threshold: "threshold is not supported",
  tint: "tint is not supported; use Imgwire's colorize on /imgwire/cdn",
  flatten: "flatten is not supported (JPEG output flattens onto b_ anyway)",
};

/** Parses the modifiers segment of an IPX URL. */
export function parseIpxModifiers(segment: string): Mapped {
  const m = mapped();
  if (segment === "_" || segment === "") return m;
  const decoded = decodeOptions(segment, "modifiers");
  let s: { w: string; h: string; from: string } | undefined;
  let fit: string | undefined;
  let flip = false;
  let flop = false;
  for (const part of decoded.split(/[&,]/)) {
    if (part === "") continue;
    const [rawName, ...args] = part.split(/[:=_]/);
    const name = rawName.toLowerCase();
    const value = args.join("_");
    const need = (what: string) => {
      if (value === "") throw invalid(name, `needs a value (${what})`);
      return value;
    };
    switch (name) {
      case "w":
      case "width":
        put(m, "width", need("a width in pixels"), name);
        break;
      case "h":
      case "height":
        put(m, "height", need("a height in pixels"), name);
        break;
      case "s":
      case "resize": {
        const [w, h = w, extra] = need("WIDTHxHEIGHT").split("x");
        if (extra !== undefined || !/^\d+$/.test(w) || !/^\d+$/.test(h))
          throw invalid(name, "expected WIDTHxHEIGHT, e.g. s_200x100");
        s = { w, h, from: name };
        break;
      }
      case "f":
      case "format": {
        const f = need("auto, webp, avif, jpeg, png, gif or tiff").toLowerCase();
        if (f === "heif" || f === "heic") throw invalid(name, "imgd cannot write HEIF; use avif");
        put(m, "format", f, name);
        break;
      }
      case "q":
      case "quality":
        put(m, "quality", need("1 to 100"), name);
        break;
      case "fit":
        fit = need(FITS.join(", ")).toLowerCase();
        if (!FITS.includes(fit)) throw invalid(name, `must be ${FITS.join(", ")}`);
        break;
      case "pos":
      case "position": {
        const p = need("a position or gravity").toLowerCase().replace(/[_+-]/g, " ");
        put(m, "gravity", POSITION[p] ?? p.replace(/ /g, ""), name);
        break;
      }
      case "b":
      case "background":
        put(m, "background", need("a hex colour"), name);
        break;
      case "enlarge":
        put(m, "enlarge", "true", name);
        break;
      case "kernel":
        put(m, "resizing_algorithm", need("nearest, cubic, mitchell, lanczos2 or lanczos3"), name);
        break;
      case "extract":
      case "crop": {
        const [left, top, w, h, extra] = need("LEFT_TOP_WIDTH_HEIGHT").split("_");
        if (extra !== undefined || ![left, top, w, h].every((x) => x !== undefined && /^\d+$/.test(x)))
          throw invalid(name, "expected LEFT_TOP_WIDTH_HEIGHT in pixels, e.g. extract_0_0_100_100");
        if (Number(w) < 2 || Number(h) < 2) throw invalid(name, "width and height must be at least 2 pixels");
        put(m, "crop", `${left}:${top}:${w}:${h}`, name);
        break;
      }
      case "extend": {
        const sides = need("TOP_RIGHT_BOTTOM_LEFT").split("_");
        if (sides.length !== 4 || !sides.every((x) => /^\d+$/.test(x)))
          throw invalid(name, "expected TOP_RIGHT_BOTTOM_LEFT in pixels, e.g. extend_10_10_10_10");
        put(m, "padding", sides.join(":"), name);
        break;
      }
      case "rotate":
        put(m, "rotate", need("an angle in degrees"), name);
        break;
      case "flip":
        flip = true;
        break;
      case "flop":
        flop = true;
        break;
      case "sharpen":
        put(m, "sharpen", value === "" ? "true" : value.split("_")[0], name);
        break;
      case "blur":
        put(m, "blur", value === "" ? "true" : value.split("_")[0], name);
        break;
      case "negate":
        put(m, "negate", "true", name);
        break;
      case "normalize":
        put(m, "normalize", "true", name);
        break;
      case "grayscale":
        put(m, "monochrome", "true", name);
        break;
      case "modulate": {
        const [b, sat, hue] = need("BRIGHTNESS_SATURATION_HUE").split("_");
        for (const [param, v] of [
          ["brightness", b],
          ["saturation", sat],
          ["hue", hue],
        ] as const) {
          if (v === undefined || v === "") continue;
          if (!NUMBER.test(v) && !(param === "hue" && /^-?\d+$/.test(v)))
            throw invalid(name, "expected numbers BRIGHTNESS_SATURATION_HUE, e.g. modulate_1.2_1_0");
          put(m, param, v, name);
        }
        break;
      }
      case "animated":
      case "a":
        // An animation stays animated where the output can animate: nothing to ask for.
        break;
      default:
        if (UNSUPPORTED[name]) throw invalid(name, UNSUPPORTED[name]);
        throw invalid(
          name,
          "is not an IPX modifier imgd knows (w, h, s, f, q, fit, pos, b, enlarge, kernel, extract, extend, rotate, flip, flop, sharpen, blur, negate, normalize, grayscale, modulate, animated)",
        );
    }
  }
  if (s) {
    put(m, "width", s.w, s.from);
    put(m, "height", s.h, s.from);
    // Sharp's default fit, which IPX keeps.
    put(m, "resizing_type", fit ?? "cover", s.from);
  }
  if (flip || flop) put(m, "flip", flip && flop ? "both" : flip ? "vertical" : "horizontal", flip ? "flip" : "flop");
  return m;
}
