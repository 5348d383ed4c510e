import type { TransformSpec } from "../../../codecs/types.ts";
import { invalid } from "../errors.ts";
import { type Placement, placement } from "./imgwire-params.ts";
import type { Source } from "./spec.ts";

// Imgwire's crop parameter and the placement arithmetic it shares with zoom and extend.

/** The window of w×h inside W×H that a placement picks (compass, offsets, focal point). */
export function cutAt(
  p: Placement,
  full: { width: number; height: number },
  w: number,
  h: number,
): { left: number; top: number; width: number; height: number } {
  const cw = Math.max(1, Math.round(w));
  const ch = Math.max(1, Math.round(h));
  const dx = full.width - cw;
  const dy = full.height - ch;
  let left = /west/.test(p.gravity) ? 0 : /east/.test(p.gravity) ? dx : Math.floor(dx / 2);
  let top = /north/.test(p.gravity) ? 0 : /south/.test(p.gravity) ? dy : Math.floor(dy / 2);
  if (p.focus) {
    left = Math.round(p.focus[0] * full.width - cw / 2);
    top = Math.round(p.focus[1] * full.height - ch / 2);
  }
  if (p.offset) {
    left += p.offset[0];
    top += p.offset[1];
  }
  return {
    left: Math.max(0, Math.min(dx, left)),
    top: Math.max(0, Math.min(dy, top)),
    width: cw,
    height: ch,
  };
}

/**
 * `w:h[:gravity]`, `x:y:w:h[:gravity]` or a JSON object `{x?, y?, width, height, gravity?}`;
 * sizes ≤ 1 are fractions of the source. A smart gravity (attention, entropy, `sm`) leaves the
 * cut's position to libvips' smartcrop in the worker.
 */
export function crop(
  param: string,
  raw: string,
  src: Source,
): { rect: NonNullable<TransformSpec["crop"]>; smart?: "attention" | "entropy" } {
  let parts = raw.split(":");
  if (raw.trimStart().startsWith("{")) {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(raw);
    } catch {
      throw invalid(param, "is not a valid JSON object");
    }
    if (o === null || typeof o !== "object" || o.width === undefined || o.height === undefined)
      throw invalid(param, "a JSON crop needs width and height (and x, y or gravity)");
    parts = [
      ...(o.x !== undefined || o.y !== undefined ? [o.x ?? 0, o.y ?? 0] : []),
      o.width,
      o.height,
      ...(o.gravity !== undefined ? String(o.gravity).split(":") : []),
    ].map(String);
  }
  const numeric = (s: string | undefined) => s !== undefined && /^\d+(\.\d+)?$/.test(s);
  let x: number | undefined;
  let y: number | undefined;
  let rest: string[];
  let w: number;
  let h: number;
  if (parts.length >= 4 && parts.slice(0, 4).every(numeric)) {
    [x, y, w, h] = parts.slice(0, 4).map(Number) as [number, number, number, number];
    rest = parts.slice(4);
  } else if (numeric(parts[0]) && numeric(parts[1])) {
    [w, h] = parts.slice(0, 2).map(Number) as [number, number];
    rest = parts.slice(2);
  } else throw invalid(param, "expected width:height[:gravity], x:y:width:height[:gravity] or a JSON object");
  const size = (n: number, full: number) => Math.max(1, Math.min(full, Math.round(n <= 1 ? n * full : n)));
  const cw = size(w, src.width);
  const ch = size(h, src.height);
  if (x !== undefined && y !== undefined) {
    const left = Math.min(Math.round(x), src.width - 1);
    const top = Math.min(Math.round(y), src.height - 1);
    return { rect: { left, top, width: Math.min(cw, src.width - left), height: Math.min(ch, src.height - top) } };
  }
  const p = rest.length ? placement(param, rest) : { gravity: "centre" as const };
  if ((p.gravity === "attention" || p.gravity === "entropy") && (cw < src.width || ch < src.height))
    return { rect: { left: 0, top: 0, width: cw, height: ch }, smart: p.gravity };
  return { rect: cutAt(p, src, cw, ch) };
}
