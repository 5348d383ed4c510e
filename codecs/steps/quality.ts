// quality=auto: the lowest quality whose encoded output keeps a target SSIM against the pixels
// before encoding, found by binary search (about 5 encodes). SSIM is measured on luminance
// with an 11-tap Gaussian window (σ 1.5), as in Wang et al. 2004, by libvips operations.
// scripts/auto-quality.ts measured the target on the test fixtures (see README).

import type { Vips, VipsImage } from "../wasm.ts";

const C1 = (0.01 * 255) ** 2;
const C2 = (0.03 * 255) ** 2;

/** Mean SSIM of two images of one size (their luminance), 1 = identical. */
export function ssim(vips: Vips, a: VipsImage, b: VipsImage): number {
  const owned = new Set<VipsImage>();
  const own = <T extends VipsImage>(i: T) => (owned.add(i), i);
  try {
    const lum = (i: VipsImage) => {
      const flat = i.hasAlpha() ? own(i.flatten({ background: [255, 255, 255] })) : i;
      return own(own(flat.colourspace("b-w")).cast("float"));
    };
    const x = lum(a);
    const y = lum(b);
    const blur = (i: VipsImage) => own(i.gaussblur(1.5, { precision: "float" }));
    const mx = blur(x);
    const my = blur(y);
    const mx2 = own(mx.multiply(mx));
    const my2 = own(my.multiply(my));
    const mxy = own(mx.multiply(my));
    const sx = own(blur(own(x.multiply(x))).subtract(mx2));
    const sy = own(blur(own(y.multiply(y))).subtract(my2));
    const sxy = own(blur(own(x.multiply(y))).subtract(mxy));
    const num = own(own(own(mxy.linear([2], [C1])).multiply(own(sxy.linear([2], [C2])))));
    const den = own(own(own(mx2.add(my2)).linear([1], [C1])).multiply(own(own(sx.add(sy)).linear([1], [C2]))));
    return own(num.divide(den)).avg();
  } finally {
    for (const i of owned) i.delete();
    void vips;
  }
}

/**
 * Binary search over quality in [floor, ceiling] for the lowest one whose decoded output has
 * SSIM ≥ target against `reference`. Returns the bytes at that quality.
 */
export function chooseQuality(
  vips: Vips,
  reference: VipsImage,
  encode: (q: number) => Uint8Array,
  target: number,
  ceiling: number,
  floor = 30,
): { quality: number; data: Uint8Array } {
  let lo = Math.min(floor, ceiling);
  let hi = ceiling;
  let best: { quality: number; data: Uint8Array } | null = null;
  while (lo <= hi) {
    const q = Math.floor((lo + hi) / 2);
    const data = encode(q);
    const decoded = vips.Image.newFromBuffer(data, "");
    let score: number;
    try {
      score = ssim(vips, reference, decoded);
    } finally {
      decoded.delete();
    }
    if (score >= target) {
      best = { quality: q, data };
      hi = q - 1;
    } else lo = q + 1;
  }
  return best ?? { quality: ceiling, data: encode(ceiling) };
}
