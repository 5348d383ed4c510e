// Output geometry of a transform, as plain arithmetic: which size to resize the (cropped,
// upright) source to, and which box to cut (cover) or pad (contain) afterwards. Kept apart
// from the pipeline so the rules can be read, and tested, without wasm.

import type { Fit, TransformSpec } from "./types.ts";

export interface Plan {
  /** Size to resize the source region to. */
  resize: { width: number; height: number };
  /** cover: the box cut out of the resized image; contain: the box it is padded to. */
  box?: { width: number; height: number };
}

const atLeast1 = (n: number) => Math.max(1, Math.round(n));

/**
 * `enlarge: false` never makes the output larger than the source. For cover and contain a
 * box larger than the source is scaled down as a whole, so the output keeps the requested
 * aspect ratio at the source's resolution (a 800×800 cover of a 600×450 photo is 450×450).
 */
export function plan(
  sw: number,
  sh: number,
  spec: Pick<TransformSpec, "width" | "height" | "fit" | "enlarge" | "minWidth" | "minHeight">,
): Plan {
  const p = fitPlan(sw, sh, spec);
  // min-width/min-height: an output short of them is scaled up as a whole (enlarge or not).
  const out = p.box ?? p.resize;
  const k = Math.max((spec.minWidth ?? 0) / out.width, (spec.minHeight ?? 0) / out.height);
  if (!(k > 1)) return p;
  const up = (r: { width: number; height: number }) => ({
    width: atLeast1(r.width * k),
    height: atLeast1(r.height * k),
  });
  if (spec.fit === "fill" && spec.width !== undefined && spec.height !== undefined)
    return p.box ? { resize: up(p.resize), box: up(p.box) } : { resize: up(p.resize) };
  // The resize keeps the source's shape: scale from the source by its exact side (the one the
  // box asked for; else the longer) rather than from a rounded size, so 1920×1080 at 400 wide
  // is 400×225, not 4 × 100×56.
  const exactW = p.resize.width === spec.width;
  const exactH = p.resize.height === spec.height;
  const byWidth = exactW !== exactH ? exactW : p.resize.width >= p.resize.height;
  const s = byWidth ? p.resize.width / sw : p.resize.height / sh;
  const resize = { width: atLeast1(sw * s * k), height: atLeast1(sh * s * k) };
  return p.box ? { resize, box: up(p.box) } : { resize };
}

function fitPlan(sw: number, sh: number, spec: Pick<TransformSpec, "width" | "height" | "fit" | "enlarge">): Plan {
  const { width: tw, height: th, enlarge } = spec;
  const fit: Fit = spec.fit;
  if (tw === undefined && th === undefined) return { resize: { width: sw, height: sh } };
  if (tw === undefined || th === undefined) {
    // One side given: the other follows the aspect ratio, whatever the fit.
    let s = tw !== undefined ? tw / sw : th! / sh;
    if (!enlarge) s = Math.min(s, 1);
    const exactW = tw !== undefined && s === tw / sw;
    const exactH = th !== undefined && s === th / sh;
    return { resize: { width: exactW ? tw! : atLeast1(sw * s), height: exactH ? th! : atLeast1(sh * s) } };
  }
  if (fit === "fill") {
    return { resize: { width: enlarge ? tw : Math.min(tw, sw), height: enlarge ? th : Math.min(th, sh) } };
  }
  const sx = tw / sw;
  const sy = th / sh;
  if (fit === "inside" || fit === "outside") {
    let s = fit === "inside" ? Math.min(sx, sy) : Math.max(sx, sy);
    if (!enlarge) s = Math.min(s, 1);
    return {
      resize: {
        width: s === sx ? tw : atLeast1(sw * s),
        height: s === sy ? th : atLeast1(sh * s),
      },
    };
  }
  // cover and contain
  const s = fit === "cover" ? Math.max(sx, sy) : Math.min(sx, sy);
  if (!enlarge && s > 1) {
    const box = {
      width: Math.min(atLeast1(tw / s), fit === "cover" ? sw : Infinity),
      height: Math.min(atLeast1(th / s), fit === "cover" ? sh : Infinity),
    };
    return { resize: { width: sw, height: sh }, box };
  }
  const width = s === sx ? tw : atLeast1(sw * s);
  const height = s === sy ? th : atLeast1(sh * s);
  if (fit === "cover") {
    return { resize: { width: Math.max(width, tw), height: Math.max(height, th) }, box: { width: tw, height: th } };
  }
  return { resize: { width: Math.min(width, tw), height: Math.min(height, th) }, box: { width: tw, height: th } };
}

/** Largest power-of-two decode shrink (≤ max) that keeps the loaded image ≥ the resize target. */
export function shrinkOnLoad(sw: number, sh: number, target: { width: number; height: number }, max = 8): number {
  const need = Math.max(target.width / sw, target.height / sh);
  let shrink = 1;
  while (shrink * 2 <= max && shrink * 2 * need <= 1) shrink *= 2;
  return shrink;
}
