import { invalid } from "../errors.ts";
import { type Mapped, mapped, put } from "./compat.ts";

// imgproxy URLs (`/{signature}/{options}/plain/{source}[@ext]`, or the source base64url-encoded
// as `/{signature}/{options}/{base64}[.ext]`): each processing option maps onto an Imgwire
// parameter (compat.ts), whose grammar imgproxy's already is for most of them. An option imgd
// cannot honour is a 400 naming it, never a silent difference.

export interface ImgproxyUrl {
  /** The first segment: a signature, or `insecure`. */
  signature: string;
  /** What the signature covers: the path after it, with its leading `/`, as the URL writes it. */
  signed: string;
  mapped: Mapped;
  /** The tenant's presets the URL names (`pr`), in order. */
  presets: string[];
  /** The source as the URL carries it (still percent-encoded when plain). */
  source: string;
}

/** imgproxy's resizing types onto Imgwire's (`auto` depends on orientation, which imgd does not mirror). */
const RESIZING: Record<string, string> = { fit: "inside", fill: "cover", "fill-down": "cover", force: "fill" };

/** imgproxy formats imgd writes, by their URL names. */
const FORMATS = new Set(["jpg", "jpeg", "png", "webp", "avif", "gif", "tiff"]);

const SUPPORTED =
  "rs, s, rt, w, h, el, ex, g, c, q, f, bl, sh, dpr, pd, bg, rot, fl, pr, sm, mw, mh, cb (and their long names)";

const isTrue = (v: string) => ["1", "t", "true"].includes(v.toLowerCase());

/** Splits an imgproxy path (after `/imgproxy`) into its signature, options and source. */
export function parseImgproxyPath(rawPath: string): ImgproxyUrl {
  const segments = rawPath.replace(/^\/+/, "").split("/");
  const signature = segments.shift() ?? "";
  if (!signature || segments.length === 0)
    throw invalid("path", "expected /imgproxy/{signature}/{options}/plain/{source}");
  const signed = `/${segments.join("/")}`;
  const options: string[] = [];
  let source: string | undefined;
  let ext: string | undefined;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    if (seg === "plain") {
      source = segments.slice(i + 1).join("/");
      const at = source.lastIndexOf("@");
      if (at >= 0 && !source.slice(at).includes("/")) [source, ext] = [source.slice(0, at), source.slice(at + 1)];
      break;
    }
    if (seg.includes(":")) {
      options.push(seg);
      continue;
    }
    // The rest is the base64url source, which may be split by slashes, and its `.ext`.
    let encoded = segments.slice(i).join("");
    const dot = encoded.indexOf(".");
    if (dot >= 0) [encoded, ext] = [encoded.slice(0, dot), encoded.slice(dot + 1)];
    source = decodeBase64Source(encoded);
    break;
  }
  if (!source) throw invalid("source", "is missing: expected …/plain/{source} or a base64url source");
  const { mapped: m, presets } = parseImgproxyOptions(options);
  if (ext !== undefined && ext !== "") {
    const f = ext.toLowerCase();
    if (!FORMATS.has(f)) throw invalid("extension", `imgd cannot write ${f}; use ${[...FORMATS].join(", ")}`);
    // The extension wins over a format option, as in imgproxy.
    m.params.set("format", f);
    m.names.set("format", "extension");
  }
  return { signature, signed, mapped: m, presets, source };
}

function decodeBase64Source(encoded: string): string {
  if (!/^[A-Za-z0-9_-]+=*$/.test(encoded)) throw invalid("source", "is not valid base64url");
  const text = Buffer.from(encoded.replace(/=+$/, ""), "base64url").toString("utf8");
  if (!text || text.includes("\uFFFD")) throw invalid("source", "is not valid base64url");
  return text;
}

/** The processing options (`name:arg:arg` segments) into Imgwire parameters. */
export function parseImgproxyOptions(options: readonly string[]): { mapped: Mapped; presets: string[] } {
  const m = mapped();
  const presets: string[] = [];
  let extend = false;
  const size = (name: string, w?: string, h?: string) => {
    for (const [param, v] of [
      ["width", w],
      ["height", h],
    ] as const) {
      if (v === undefined || v === "" || v === "0") continue;
      if (!/^\d+$/.test(v)) throw invalid(name, `${param} must be a whole number of pixels`);
      put(m, param, v, name);
    }
  };
  const resizingType = (name: string, t: string) => {
    const rt = RESIZING[t.toLowerCase()];
    if (!rt) throw invalid(name, `resizing type must be ${Object.keys(RESIZING).join(", ")}`);
    put(m, "resizing_type", rt, name);
  };
  const flag = (name: string, param: string, v: string | undefined) => {
    if (v !== undefined && v !== "") put(m, param, isTrue(v) ? "true" : "false", name);
  };
  const extendOf = (name: string, args: string[]) => {
    if (args[0] === undefined || args[0] === "") return;
    extend = isTrue(args[0]);
    const g = args.slice(1).filter((x) => x !== "");
    if (extend && g.length && !(g.length === 1 && g[0] === "ce"))
      throw invalid(name, "imgd extends around the centre only (ex:1 or ex:1:ce)");
  };
  for (const option of options) {
    const [rawName, ...args] = option.split(":");
    const name = rawName.toLowerCase();
    const value = args.join(":");
    const need = (what: string) => {
      if (value === "") throw invalid(name, `needs a value (${what})`);
      return value;
    };
    switch (name) {
      case "rs":
      case "resize":
        if (args[0]) resizingType(name, args[0]);
        size(name, args[1], args[2]);
        flag(name, "enlarge", args[3]);
        extendOf(name, args.slice(4));
        break;
      case "s":
      case "size":
        size(name, args[0], args[1]);
        flag(name, "enlarge", args[2]);
        extendOf(name, args.slice(3));
        break;
      case "rt":
      case "resizing_type":
        resizingType(name, need("fit, fill, fill-down or force"));
        break;
      case "w":
      case "width":
        size(name, need("pixels"), undefined);
        break;
      case "h":
      case "height":
        size(name, undefined, need("pixels"));
        break;
      case "el":
      case "enlarge":
        flag(name, "enlarge", need("1 or 0"));
        break;
      case "ex":
      case "extend":
        extendOf(name, args);
        break;
      case "g":
      case "gravity":
        put(m, "gravity", need("a gravity"), name);
        break;
      case "c":
      case "crop": {
        const [w, h, ...g] = args;
        if (w === undefined || h === undefined) throw invalid(name, "expected c:width:height[:gravity]");
        // imgproxy's 0 is the whole side; Imgwire's 1 (a fraction) says the same.
        const side = (v: string) => (v === "" || v === "0" ? "1" : v);
        put(m, "crop", [side(w), side(h), ...g].join(":"), name);
        break;
      }
      case "q":
      case "quality":
        if (need("1 to 100") !== "0") put(m, "quality", value, name);
        break;
      case "f":
      case "format":
      case "ext": {
        const f = need("a format").toLowerCase();
        if (!FORMATS.has(f)) throw invalid(name, `imgd cannot write ${f}; use ${[...FORMATS].join(", ")}`);
        put(m, "format", f, name);
        break;
      }
      case "bl":
      case "blur":
        if (need("a sigma") !== "0") put(m, "blur", value, name);
        break;
      case "sh":
      case "sharpen":
        if (need("a sigma") !== "0") put(m, "sharpen", value, name);
        break;
      case "dpr":
        put(m, "dpr", need("a ratio"), name);
        break;
      case "pd":
      case "padding":
        put(m, "padding", args.map((x) => x || "0").join(":"), name);
        break;
      case "bg":
      case "background":
        if (value !== "") put(m, "background", value, name);
        break;
      case "rot":
      case "rotate":
        if (!/^-?\d+$/.test(need("90, 180 or 270")) || Number(value) % 90 !== 0)
          throw invalid(name, "must be a multiple of 90");
        put(m, "rotate", value, name);
        break;
      case "fl":
      case "flip":
        put(m, "flip", `${isTrue(args[0] ?? "") ? "t" : "f"}:${isTrue(args[1] ?? "") ? "t" : "f"}`, name);
        break;
      case "pr":
      case "preset":
        presets.push(...args.filter((x) => x !== ""));
        break;
      case "sm":
      case "strip_metadata":
        flag(name, "strip_metadata", need("1 or 0"));
        break;
      case "mw":
      case "min-width":
      case "min_width":
        put(m, "min-width", need("pixels"), name);
        break;
      case "mh":
      case "min-height":
      case "min_height":
        put(m, "min-height", need("pixels"), name);
        break;
      case "cb":
      case "cachebuster":
        // Only changes the URL (for caches in front): the image is the same.
        break;
      default:
        throw invalid(name, `is not an imgproxy option imgd supports (${SUPPORTED})`);
    }
  }
  // Extending a fitted image to the asked box is Imgwire's contain (padded with the background).
  if (extend && m.params.get("resizing_type") !== "cover" && m.params.get("resizing_type") !== "fill")
    m.params.set("resizing_type", "contain");
  return { mapped: m, presets };
}
