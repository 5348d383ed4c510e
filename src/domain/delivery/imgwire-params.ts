import type { BlendMode, Gravity, ResizeKernel, Rgb, Rgba, TransformSpec } from "../../../codecs/types.ts";
import { invalid } from "../errors.ts";

// The value grammar of Imgwire's effect, canvas, output and watermark parameters
// (reference/imgwire/url-parameters.md), each into its canonical spec field. A value that does
// not parse is a 400 naming the parameter (as given) and what it accepts.

export type Raw = { name: string; value: string };

export const GRAVITY: Record<string, Gravity> = {
  ce: "centre",
  center: "centre",
  centre: "centre",
  n: "north",
  no: "north",
  north: "north",
  s: "south",
  so: "south",
  south: "south",
  e: "east",
  ea: "east",
  east: "east",
  w: "west",
  we: "west",
  west: "west",
  ne: "northeast",
  noea: "northeast",
  northeast: "northeast",
  nw: "northwest",
  nowe: "northwest",
  northwest: "northwest",
  se: "southeast",
  soea: "southeast",
  southeast: "southeast",
  sw: "southwest",
  sowe: "southwest",
  southwest: "southwest",
  sm: "attention",
  attention: "attention",
  entropy: "entropy",
};
const GRAVITY_NAMES = "ce, no, so, ea, we, noea, nowe, soea, sowe, attention, entropy, fp:x:y";

/** A placement: compass (or smart) gravity, optional pixel offsets, or a focal point. */
export interface Placement {
  gravity: Gravity;
  offset?: [number, number];
  focus?: [number, number];
}

/** `g`, `g:sm`, `g:x:y` (pixel offsets, right/down), `fp:x:y` (fractions 0–1). */
export function placement(param: string, parts: string[]): Placement {
  const head = parts[0]?.toLowerCase() ?? "";
  if (head === "fp") {
    const [x, y] = parts.slice(1).map(Number);
    if (parts.length !== 3 || !(x! >= 0 && x! <= 1 && y! >= 0 && y! <= 1))
      throw invalid(param, "a focal point is fp:x:y with x and y fractions from 0 to 1");
    return { gravity: "centre", focus: [x!, y!] };
  }
  const g = GRAVITY[head];
  if (!g) throw invalid(param, `unknown gravity '${parts[0]}' (${GRAVITY_NAMES})`);
  if (parts.length === 1) return { gravity: g };
  if (parts.length === 2 && parts[1] === "sm") return { gravity: "attention" };
  if (parts.length === 3 && parts.slice(1).every((p) => /^-?\d+$/.test(p)))
    return { gravity: g, offset: [Number(parts[1]), Number(parts[2])] };
  throw invalid(param, "expected gravity, gravity:sm, gravity:x:y or fp:x:y");
}

export function color(param: string, raw: string): Rgba {
  const parts = raw.split(":");
  if (parts.length === 3 || parts.length === 4) {
    const n = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
    if (n.some((x) => !(x >= 0 && x <= 255))) throw invalid(param, "expected r:g:b[:a] from 0 to 255");
    return [n[0]!, n[1]!, n[2]!, n[3] ?? 255];
  }
  const hex = raw.replace(/^#/, "").toLowerCase();
  const full = /^[0-9a-f]{3}$/.test(hex) ? [...hex].map((c) => c + c).join("") : hex;
  if (!/^([0-9a-f]{6}|[0-9a-f]{8})$/.test(full))
    throw invalid(param, "expected a colour: rgb, rrggbb, rrggbbaa or r:g:b[:a]");
  const b = full.match(/../g)!.map((x) => parseInt(x, 16));
  return [b[0]!, b[1]!, b[2]!, b[3] ?? 255];
}
const rgb = (c: Rgba): Rgb => [c[0], c[1], c[2]];

export function num(
  param: string,
  raw: string | number | undefined,
  min: number,
  max: number,
  what = "a number",
): number {
  const n = typeof raw === "number" ? raw : raw !== undefined && /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) throw invalid(param, `must be ${what} from ${min} to ${max}`);
  return n;
}
export const int = (param: string, raw: string | number | undefined, min: number, max: number) => {
  const n = num(param, raw, min, max, "a whole number");
  if (!Number.isInteger(n)) throw invalid(param, `must be a whole number from ${min} to ${max}`);
  return n;
};

export function bool(param: string, raw: string | boolean): boolean {
  if (typeof raw === "boolean") return raw;
  const v = raw.toLowerCase();
  if (["true", "t", "1"].includes(v)) return true;
  if (["false", "f", "0"].includes(v)) return false;
  throw invalid(param, "must be true or false");
}

/** A JSON-object value (`{…}`, URL-encoded by the client), or null for the colon syntax. */
export function json(p: Raw): Record<string, unknown> | null {
  if (!p.value.trimStart().startsWith("{")) return null;
  try {
    const v = JSON.parse(p.value);
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {}
  throw invalid(p.name, "is not a valid JSON object");
}
export const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));

export function blur(p: Raw): number {
  return p.value.toLowerCase() === "true" ? 2 : num(p.name, p.value, 0.3, 100, "true or a sigma");
}

export function sharpen(p: Raw): number {
  const o = json(p);
  if (o) return num(p.name, o.sigma as number, 0.3, 10, "a sigma");
  return p.value.toLowerCase() === "true" ? 1 : num(p.name, p.value, 0.3, 10, "true or a sigma");
}

/** `brightness[:saturation[:color]]`: multipliers, and a hue turn in degrees. */
export function adjust(p: Raw): NonNullable<TransformSpec["modulate"]> {
  const o = json(p);
  const [b, s, c] = o ? [str(o.brightness), str(o.saturation), str(o.color)] : p.value.split(":");
  const out: NonNullable<TransformSpec["modulate"]> = { brightness: num(p.name, b, 0.01, 10) };
  if (s !== undefined) out.saturation = num(p.name, s, 0.01, 10);
  if (c !== undefined) out.hue = num(p.name, c, -3600, 3600);
  return out;
}

export function contrast(p: Raw): NonNullable<TransformSpec["contrast"]> {
  const o = json(p);
  const [m, pivot] = o ? [str(o.multiplier), str(o.pivot)] : p.value.split(":");
  return {
    multiplier: num(p.name, m, 0.01, 10, "multiplier[:pivot], a multiplier"),
    pivot: pivot === undefined ? 128 : num(p.name, pivot, 0, 255, "a pivot"),
  };
}

export function normalize(p: Raw): TransformSpec["normalize"] {
  const parts = p.value.split(":");
  if (parts.length === 2) {
    const lower = num(p.name, parts[0], 0, 100, "lower:upper percentiles");
    const upper = num(p.name, parts[1], 0, 100, "lower:upper percentiles");
    if (lower >= upper) throw invalid(p.name, "lower must be below upper");
    return { lower, upper };
  }
  return bool(p.name, p.value) ? { lower: 1, upper: 99 } : undefined;
}

export function monochrome(p: Raw): TransformSpec["monochrome"] {
  const v = p.value.toLowerCase();
  if (v === "true") return true;
  if (v === "false") return undefined;
  return rgb(color(p.name, p.value));
}

export function duotone(p: Raw): NonNullable<TransformSpec["duotone"]> {
  const o = json(p);
  let a: string | undefined;
  let b: string | undefined;
  if (o) [a, b] = [str(o.shadowColor ?? o.shadow), str(o.highlightColor ?? o.highlight)];
  else {
    const parts = p.value.split(":");
    // r:g:b colours have colons of their own: six (or eight) parts are two of them.
    if (parts.length === 2) [a, b] = parts;
    else if (parts.length === 6 || parts.length === 8) {
      const half = parts.length / 2;
      [a, b] = [parts.slice(0, half).join(":"), parts.slice(half).join(":")];
    }
  }
  if (a === undefined || b === undefined) throw invalid(p.name, "expected shadowColor:highlightColor");
  return { shadow: rgb(color(p.name, a)), highlight: rgb(color(p.name, b)) };
}

export function negate(p: Raw): TransformSpec["negate"] {
  const parts = p.value.split(":");
  if (parts.length === 2 && parts[0]!.toLowerCase() === "alpha") return { alpha: bool(p.name, parts[1]!) };
  return bool(p.name, p.value) ? { alpha: false } : undefined;
}

const BLENDS: readonly BlendMode[] = [
  "over",
  "multiply",
  "screen",
  "overlay",
  "soft-light",
  "hard-light",
  "darken",
  "lighten",
];
export function blend(param: string, raw: string | undefined): BlendMode {
  if (raw === undefined) return "over";
  const b = raw.toLowerCase().replace("_", "-") as BlendMode;
  if (!BLENDS.includes(b)) throw invalid(param, `blend must be one of ${BLENDS.join(", ")}`);
  return b;
}

export function gradient(p: Raw): NonNullable<TransformSpec["gradient"]> {
  const o = json(p);
  let colors: string[];
  let angle: string | undefined;
  let opacity: string | undefined;
  let mode: string | undefined;
  if (o) {
    colors = Array.isArray(o.colors) ? o.colors.map(String) : [];
    [angle, opacity, mode] = [str(o.angle), str(o.opacity), str(o.blend)];
  } else {
    const parts = p.value.split(":");
    colors = parts[0]!.split(",");
    [angle, opacity, mode] = parts.slice(1);
  }
  if (colors.length < 2) throw invalid(p.name, "expected color1,color2[,colorN][:angle[:opacity[:blend]]]");
  return {
    colors: colors.map((c) => color(p.name, c)),
    angle: angle === undefined ? 0 : num(p.name, angle, -360, 360, "an angle"),
    opacity: opacity === undefined ? 1 : num(p.name, opacity, 0, 1, "an opacity"),
    blend: blend(p.name, mode),
  };
}

/** CSS-like sides: `all`, `y:x`, `top:x:bottom`, `top:right:bottom:left`. */
function sides(param: string, values: (string | undefined)[]): [number, number, number, number] {
  const n = values.filter((v) => v !== undefined).map((v) => int(param, v, 0, 4096));
  if (n.length === 1) return [n[0]!, n[0]!, n[0]!, n[0]!];
  if (n.length === 2) return [n[0]!, n[1]!, n[0]!, n[1]!];
  if (n.length === 3) return [n[0]!, n[1]!, n[2]!, n[1]!];
  if (n.length === 4) return [n[0]!, n[1]!, n[2]!, n[3]!];
  throw invalid(param, "expected all, y:x, top:x:bottom or top:right:bottom:left (pixels)");
}

export function padding(p: Raw): [number, number, number, number] {
  const o = json(p);
  if (o) return [o.top, o.right, o.bottom, o.left].map((v) => int(p.name, (v as number) ?? 0, 0, 4096)) as never;
  return sides(p.name, p.value.split(":"));
}

export function extend(p: Raw): NonNullable<TransformSpec["extend"]> {
  const o = json(p);
  let s: [number, number, number, number];
  let bg: string | undefined;
  if (o) {
    s = [o.top, o.right, o.bottom, o.left].map((v) => int(p.name, (v as number) ?? 0, 0, 4096)) as never;
    bg = str(o.background);
  } else {
    const parts = p.value.split(":");
    const last = parts[parts.length - 1]!;
    if (parts.length > 1 && !/^\d+$/.test(last)) bg = parts.pop();
    s = sides(p.name, parts);
  }
  const out: NonNullable<TransformSpec["extend"]> = { top: s[0], right: s[1], bottom: s[2], left: s[3] };
  if (bg !== undefined) out.background = color(p.name, bg);
  return out;
}

export function aspectRatio(p: Raw): number {
  const o = json(p);
  const parts = o ? (o.ratio !== undefined ? [str(o.ratio)] : [str(o.width), str(o.height)]) : p.value.split(":");
  if (parts.length === 2) return num(p.name, parts[0], 1, 100000) / num(p.name, parts[1], 1, 100000);
  return num(p.name, parts[0], 0.01, 100, "a ratio (width ÷ height) or width:height, a ratio");
}

export function flip(p: Raw): TransformSpec["flip"] {
  const v = p.value.toLowerCase();
  if (v === "horizontal" || v === "vertical" || v === "both") return v;
  const parts = v.split(":");
  if (parts.length === 2) {
    const h = bool(p.name, parts[0]!);
    const vert = bool(p.name, parts[1]!);
    return h && vert ? "both" : h ? "horizontal" : vert ? "vertical" : undefined;
  }
  throw invalid(p.name, "must be horizontal, vertical, both, or horizontal:vertical booleans");
}

export function rotation(p: Raw): { angle: number; background?: Rgba } {
  const o = json(p);
  const [a, bg] = o ? [str(o.angle), str(o.background)] : splitFirst(p.value);
  const out: { angle: number; background?: Rgba } = { angle: num(p.name, a, -3600, 3600, "an angle in degrees") };
  if (bg !== undefined) out.background = color(p.name, bg);
  return out;
}
const splitFirst = (v: string): [string, string | undefined] => {
  const i = v.indexOf(":");
  return i < 0 ? [v, undefined] : [v.slice(0, i), v.slice(i + 1)];
};

const KERNELS: Record<string, ResizeKernel> = {
  nearest: "nearest",
  cubic: "cubic",
  mitchell: "mitchell",
  lanczos2: "lanczos2",
  lanczos3: "lanczos3",
};
export function kernel(p: Raw): ResizeKernel {
  const k = KERNELS[p.value.toLowerCase()];
  if (!k) throw invalid(p.name, "must be nearest, cubic, mitchell, lanczos2 or lanczos3");
  return k;
}

export function colorProfile(p: Raw): TransformSpec["colorProfile"] {
  const v = p.value.toLowerCase();
  if (v === "srgb") return undefined;
  if (v === "rgb16" || v === "cmyk") return v;
  if (v === "keep" || v === "preserve") return "keep";
  throw invalid(p.name, "must be srgb, rgb16, cmyk, keep or preserve");
}

export function chroma(p: Raw): TransformSpec["chromaSubsampling"] {
  const v = p.value.toLowerCase();
  if (v === "auto") return undefined;
  if (v === "4:4:4" || v === "4:2:2") return v;
  throw invalid(p.name, "must be 4:4:4, 4:2:2 or auto");
}

export function progressive(p: Raw): boolean | undefined {
  return p.value.toLowerCase() === "auto" ? undefined : bool(p.name, p.value);
}

/** `factor[:gravity]`: the middle 1/factor of the image (by gravity) fills the output. */
export function zoom(p: Raw): { factor: number; place: Placement } {
  const o = json(p);
  const [f, ...g] = o ? [str(o.factor), ...(o.gravity !== undefined ? [String(o.gravity)] : [])] : p.value.split(":");
  const factor = num(p.name, f, 1, 100, "a zoom factor");
  return { factor, place: g.length ? placement(p.name, g as string[]) : { gravity: "centre" } };
}
