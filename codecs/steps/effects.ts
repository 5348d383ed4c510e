// Steps that change pixels but not the size: mirror and rotation, blur/sharpen/pixelate, and
// the colour group. Each is a no-op unless its spec field is set. They work on 8-bit sRGB
// (after the `srgb` step), keep alpha apart where it must not change, and give back uchar, so
// every frame of an animation keeps one band layout.

import type { Rgb, Rgba } from "../types.ts";
import type { Vips, VipsImage } from "../wasm.ts";
import type { State, Step } from "./state.ts";

/** Frees the intermediates of one operation chain; `keep` survives. */
export class Scope {
  readonly #owned = new Set<VipsImage>();
  /** Registers an image to free (once, however often it is registered). */
  own<T extends VipsImage>(img: T): T {
    this.#owned.add(img);
    return img;
  }
  free(keep?: VipsImage): void {
    for (const i of this.#owned) if (i !== keep) i.delete();
    this.#owned.clear();
  }
}

/**
 * Runs `fn` on the colour bands only (alpha set aside and joined back), as uchar. `fn` may
 * register its intermediates in the scope it is given.
 */
export function onColour(s: State, fn: (rgb: VipsImage, scope: Scope) => VipsImage): void {
  const img = s.image;
  const scope = new Scope();
  try {
    const alpha = img.hasAlpha() ? scope.own(img.extractBand(img.bands - 1)) : null;
    const rgb = alpha ? scope.own(img.extractBand(0, { n: img.bands - 1 })) : img;
    let out = fn(rgb, scope);
    if (out === rgb && !alpha) return;
    if (out.format !== "uchar") out = scope.own(out).cast("uchar");
    if (out.interpretation !== "srgb" && out.bands >= 3) out = scope.own(out).copy({ interpretation: "srgb" });
    const joined = alpha ? scope.own(out).bandjoin(alpha) : out;
    scope.free(joined);
    s.replace(joined);
  } finally {
    scope.free(s.image);
  }
}

/** Grey images to three bands, so colour operations and stacking see sRGB. */
const toRgbBands = (img: VipsImage, scope: Scope) => (img.bands < 3 ? scope.own(img.colourspace("srgb")) : img);

/** A 256-entry colour lookup: luminance 0..255 to RGB. */
function lut(vips: Vips, colourAt: (t: number) => Rgb): VipsImage {
  const data = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const c = colourAt(i / 255);
    for (let b = 0; b < 3; b++) data[i * 3 + b] = Math.max(0, Math.min(255, Math.round(c[b]!)));
  }
  const mem = vips.Image.newFromMemory(data, 256, 1, 3, vips.BandFormat.uchar);
  const out = mem.copy({ interpretation: "srgb" });
  mem.delete();
  return out;
}

const lerp = (a: Rgb, b: Rgb, t: number): Rgb => [0, 1, 2].map((i) => a[i]! + (b[i]! - a[i]!) * t) as Rgb;

/** Luminance through a colour ramp (monochrome with a colour, duotone). */
function ramp(s: State, colourAt: (t: number) => Rgb): void {
  onColour(s, (rgb, scope) => {
    const grey = scope.own(rgb.colourspace("b-w"));
    const table = scope.own(lut(s.vips, colourAt));
    return scope.own(grey.maplut(table));
  });
}

export const flip: Step = {
  name: "flip",
  run(s) {
    const f = s.spec.flip;
    if (!f) return;
    s.materialize();
    if (f === "horizontal" || f === "both") s.replace(s.image.flip("horizontal"));
    if (f === "vertical" || f === "both") s.replace(s.image.flip("vertical"));
  },
};

/** Right angles turn the pixels exactly; other angles enlarge the canvas, filling the corners. */
export function rotateImage(s: State, angle: number, background: Rgba | undefined): void {
  s.materialize();
  if (angle % 90 === 0) {
    const by = ({ 90: "d90", 180: "d180", 270: "d270" } as const)[angle as 90 | 180 | 270];
    if (by) s.replace(s.image.rot(by));
    return;
  }
  const bg = background ?? [0, 0, 0, 0];
  // A see-through background needs an alpha band to be see-through in.
  if (bg[3] < 255 && !s.image.hasAlpha()) s.replace(s.image.bandjoin(255));
  const img = s.image;
  const fill = img.hasAlpha() ? [...bg] : bg.slice(0, 3);
  const rotated = img.rotate(angle, { background: fill });
  s.replace(rotated.format === "uchar" ? rotated : rotated.cast("uchar"));
  if (rotated !== s.image) rotated.delete();
}

export const rotate: Step = {
  name: "rotate",
  run(s) {
    const r = s.spec.rotate;
    if (r) rotateImage(s, r.angle, r.background);
  },
};

export const blur: Step = {
  name: "blur",
  run(s) {
    const sigma = s.spec.blur;
    if (!sigma) return;
    const out = s.image.gaussblur(sigma);
    s.replace(out.format === "uchar" ? out : out.cast("uchar"));
    if (out !== s.image) out.delete();
  },
};

export const sharpen: Step = {
  name: "sharpen",
  run(s) {
    const sigma = s.spec.sharpen;
    if (!sigma) return;
    // Sharpening works on lightness (libvips converts to LabS and back); m2 as sharp's default.
    onColour(s, (rgb, scope) => scope.own(toRgbBands(rgb, scope).sharpen({ sigma, m1: 1, m2: 2 })));
  },
};

export const pixelate: Step = {
  name: "pixelate",
  run(s) {
    const k = s.spec.pixelate;
    if (!k) return;
    const img = s.image;
    const n = Math.min(k, img.width, img.height);
    if (n < 2) return;
    const scope = new Scope();
    try {
      // Average each n×n block, then blow the blocks up again and cut back to the size.
      const small = scope.own(img.shrink(n, n));
      const big = scope.own(small.zoom(n, n));
      const w = Math.min(img.width, big.width);
      const h = Math.min(img.height, big.height);
      let out = scope.own(big.extractArea(0, 0, w, h));
      if (w < img.width || h < img.height) out = scope.own(out.embed(0, 0, img.width, img.height, { extend: "copy" }));
      const cast = out.format === "uchar" ? out : scope.own(out.cast("uchar"));
      scope.free(cast);
      s.replace(cast);
    } finally {
      scope.free(s.image);
    }
  },
};

/** brightness multiplies the RGB values; lightness, saturation and hue act in LCh. */
export const modulate: Step = {
  name: "modulate",
  run(s) {
    const m = s.spec.modulate;
    if (!m) return;
    onColour(s, (rgb0, scope) => {
      let rgb = toRgbBands(rgb0, scope);
      if (m.brightness !== undefined) rgb = scope.own(rgb.linear([m.brightness], [0]));
      if (m.lightness === undefined && m.saturation === undefined && m.hue === undefined) return rgb;
      const lch = scope.own(rgb.colourspace("lch"));
      const moved = scope.own(lch.linear([m.lightness ?? 1, m.saturation ?? 1, 1], [0, 0, m.hue ?? 0]));
      return scope.own(moved.colourspace("srgb"));
    });
  },
};

export const contrast: Step = {
  name: "contrast",
  run(s) {
    const c = s.spec.contrast;
    if (!c) return;
    onColour(s, (rgb, scope) => scope.own(rgb.linear([c.multiplier], [c.pivot * (1 - c.multiplier)])));
  },
};

export const normalize: Step = {
  name: "normalize",
  run(s) {
    const n = s.spec.normalize;
    if (!n) return;
    // The percentiles are read in a first pass over the pixels.
    s.materialize();
    onColour(s, (rgb, scope) => {
      const grey = scope.own(rgb.colourspace("b-w"));
      const lo = grey.percent(n.lower);
      const hi = Math.max(lo + 1, grey.percent(n.upper));
      const a = 255 / (hi - lo);
      return scope.own(rgb.linear([a], [-lo * a]));
    });
  },
};

export const monochrome: Step = {
  name: "monochrome",
  run(s) {
    const m = s.spec.monochrome;
    if (!m) return;
    if (m === true) {
      onColour(s, (rgb, scope) => scope.own(scope.own(rgb.colourspace("b-w")).colourspace("srgb")));
      return;
    }
    // Black → the colour at mid-grey → white.
    ramp(s, (t) => (t < 0.5 ? lerp([0, 0, 0], m, t * 2) : lerp(m, [255, 255, 255], (t - 0.5) * 2)));
  },
};

export const duotone: Step = {
  name: "duotone",
  run(s) {
    const d = s.spec.duotone;
    if (d) ramp(s, (t) => lerp(d.shadow, d.highlight, t));
  },
};

export const colorize: Step = {
  name: "colorize",
  run(s) {
    const c = s.spec.colorize;
    if (!c) return;
    const a = c[3] / 255;
    onColour(s, (rgb, scope) =>
      scope.own(toRgbBands(rgb, scope).linear([1 - a, 1 - a, 1 - a], [c[0] * a, c[1] * a, c[2] * a])),
    );
  },
};

export const negate: Step = {
  name: "negate",
  run(s) {
    const n = s.spec.negate;
    if (!n) return;
    if (n.alpha || !s.image.hasAlpha()) {
      s.replace(s.image.invert());
      return;
    }
    onColour(s, (rgb, scope) => scope.own(rgb.invert()));
  },
};

/**
 * A linear gradient composited with the blend mode: each pixel's position along the gradient
 * (0–255) is computed by libvips from its coordinates, then looked up in a 256-entry RGBA table
 * of the colour stops, so the cost stays in libvips whatever the size.
 */
export const gradient: Step = {
  name: "gradient",
  run(s) {
    const g = s.spec.gradient;
    if (!g || g.colors.length === 0) return;
    const img = s.image;
    const { width: W, height: H } = img;
    const rad = (g.angle * Math.PI) / 180;
    // 0° runs top → bottom; positive angles turn clockwise.
    const dx = -Math.sin(rad);
    const dy = Math.cos(rad);
    const corners = [0, W].flatMap((x) => [0, H].map((y) => x * dx + y * dy));
    const min = Math.min(...corners);
    const span = Math.max(...corners) - min || 1;
    const stops = g.colors;
    const table = new Uint8Array(256 * 4);
    for (let v = 0; v < 256; v++) {
      const pos = (v / 255) * (stops.length - 1);
      const i = Math.min(stops.length - 2, Math.floor(pos));
      const a = stops[Math.max(0, i)]!;
      const b = stops[Math.min(stops.length - 1, i + 1)]!;
      const f = stops.length === 1 ? 0 : pos - i;
      for (let k = 0; k < 3; k++) table[v * 4 + k] = Math.round(a[k]! + (b[k]! - a[k]!) * f);
      table[v * 4 + 3] = Math.round((a[3] + (b[3] - a[3]) * f) * g.opacity);
    }
    const scope = new Scope();
    try {
      const xy = scope.own(s.vips.Image.xyz(W, H));
      // Pixel centres, projected on the gradient's direction and scaled to 0–255.
      const x = scope.own(scope.own(xy.extractBand(0)).linear([dx], [dx * 0.5]));
      const y = scope.own(scope.own(xy.extractBand(1)).linear([dy], [dy * 0.5]));
      const t = scope.own(scope.own(scope.own(x.add(y)).linear([255 / span], [(-min * 255) / span])).cast("uchar"));
      const lutMem = scope.own(s.vips.Image.newFromMemory(table, 256, 1, 4, s.vips.BandFormat.uchar));
      const lut = scope.own(lutMem.copy({ interpretation: "srgb" }));
      const overlay = scope.own(scope.own(t.maplut(lut)).copy({ interpretation: "srgb" }));
      const base = img.bands < 3 ? scope.own(img.colourspace("srgb")) : img;
      const hadAlpha = base.hasAlpha();
      const under = hadAlpha ? base : scope.own(base.bandjoin(255));
      let out = scope.own(under.composite2(overlay, g.blend));
      out = scope.own(out.cast("uchar"));
      if (!hadAlpha) out = scope.own(out.extractBand(0, { n: 3 }));
      scope.free(out);
      s.replace(out);
    } finally {
      scope.free(s.image);
    }
  },
};

/** In the order they apply. */
export const EFFECT_STEPS: readonly Step[] = [
  flip,
  rotate,
  blur,
  sharpen,
  pixelate,
  modulate,
  contrast,
  normalize,
  monochrome,
  duotone,
  colorize,
  negate,
  gradient,
];
