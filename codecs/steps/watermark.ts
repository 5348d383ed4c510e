// The watermark step: another image (its bytes beside the spec) or a line of text (drawn with
// the embedded bitmap font), sized, rotated, faded, given a shadow and laid over the output.

import { CodecError, type WatermarkSpec } from "../types.ts";
import type { VipsImage } from "../wasm.ts";
import { Scope } from "./effects.ts";
import { FONT_CELL } from "./font-atlas.gen.ts";
import { renderText } from "./font.ts";
import { anchor, toSrgb } from "./helpers.ts";
import type { State, Step } from "./state.ts";

/** The mark as 4-band sRGB with alpha, before sizing. */
function markImage(s: State, w: WatermarkSpec, scope: Scope): VipsImage {
  if (w.text !== undefined) {
    const asked = w.textSize ?? Math.max(8, Math.round(s.image.height / 10));
    // Never draw wider than the output: it would be shrunk to fit anyway.
    const widest = (s.image.width * FONT_CELL.height) / (FONT_CELL.width * Math.max(1, [...w.text].length));
    const height = Math.max(4, Math.min(asked, Math.floor(widest)));
    return scope.own(renderText(s.vips, w.text, height, w.textColor ?? [255, 255, 255, 255]));
  }
  const bytes = s.input.watermark;
  if (!bytes) throw new CodecError("invalid_image", "watermark image bytes are missing");
  let img = scope.own(s.vips.Image.newFromBuffer(bytes, "", { fail_on: "truncated" }));
  const limit = s.limits.maxSourcePixels;
  if (limit !== undefined && img.width * img.height > limit)
    throw new CodecError("too_large", `the watermark is ${img.width}×${img.height}, over the limit of ${limit} pixels`);
  img = scope.own(img.autorot());
  img = scope.own(toSrgb(img, s.vips).image);
  if (img.bands < 3) img = scope.own(img.colourspace("srgb"));
  if (!img.hasAlpha()) img = scope.own(img.bandjoin(255));
  return img;
}

export const watermark: Step = {
  name: "watermark",
  run(s) {
    const w = s.spec.watermark;
    if (!w) return;
    const scope = new Scope();
    try {
      let mark = markImage(s, w, scope);
      const base = s.image;
      // Size: a box, or a fraction of the output's width; never larger than the output.
      let bw = w.width ?? (w.scale ? base.width * w.scale : undefined);
      let bh = w.height;
      if (bw !== undefined || bh !== undefined) {
        bw ??= Infinity;
        bh ??= Infinity;
        const k = Math.min(bw / mark.width, bh / mark.height);
        if (k !== 1 && Number.isFinite(k)) mark = scope.own(mark.resize(k, { kernel: "lanczos3" }));
      }
      const fitK = Math.min(1, base.width / mark.width, base.height / mark.height);
      if (fitK < 1) mark = scope.own(mark.resize(fitK, { kernel: "lanczos3" }));
      if (w.rotate) {
        const a = w.rotate.angle;
        if (a % 90 === 0) mark = scope.own(mark.rot(({ 90: "d90", 180: "d180", 270: "d270" } as const)[a as 90]));
        else mark = scope.own(mark.rotate(a, { background: [...(w.rotate.background ?? [0, 0, 0, 0])] }));
      }
      if (w.opacity < 1) mark = scope.own(mark.linear([1, 1, 1, w.opacity], [0, 0, 0, 0]));
      mark = scope.own(mark.cast("uchar"));
      if (w.shadow) {
        // The mark's alpha, blurred and coloured, under the mark at an offset.
        const { color, blur, x, y } = w.shadow;
        const pad = Math.ceil(blur * 3) + Math.max(Math.abs(x), Math.abs(y));
        const alpha = scope.own(mark.extractBand(3));
        const wide = scope.own(alpha.embed(pad + x, pad + y, mark.width + 2 * pad, mark.height + 2 * pad));
        const soft = blur > 0 ? scope.own(wide.gaussblur(blur)) : wide;
        const shadowAlpha = scope.own(soft.linear([color[3] / 255], [0]));
        const rgb = scope.own(
          scope.own(s.vips.Image.black(wide.width, wide.height, { bands: 3 })).linear([0, 0, 0], color.slice(0, 3)),
        );
        const shadow = scope.own(
          scope.own(scope.own(rgb.bandjoin(shadowAlpha)).cast("uchar")).copy({ interpretation: "srgb" }),
        );
        const placed = scope.own(mark.embed(pad, pad, wide.width, wide.height));
        mark = scope.own(scope.own(shadow.composite2(placed, "over")).cast("uchar"));
        // Keep the mark where it was: the shadow's margin grows equally on every side.
        mark = scope.own(
          mark.extractArea(pad, pad, Math.min(mark.width - pad, base.width), Math.min(mark.height - pad, base.height)),
        );
      }
      const g = w.gravity === "attention" || w.gravity === "entropy" ? "centre" : w.gravity;
      const at = anchor(
        g,
        base.width,
        base.height,
        Math.min(mark.width, base.width),
        Math.min(mark.height, base.height),
      );
      const left = Math.max(-mark.width + 1, Math.min(base.width - 1, at.left + w.x));
      const top = Math.max(-mark.height + 1, Math.min(base.height - 1, at.top + w.y));
      const under = base.hasAlpha() ? base : scope.own(base.bandjoin(255));
      const srgbUnder = under.bands < 4 ? scope.own(under.colourspace("srgb")) : under;
      let out = scope.own(srgbUnder.composite2(mark, w.blend, { x: left, y: top }));
      out = scope.own(out.cast("uchar"));
      if (!base.hasAlpha()) out = scope.own(out.extractBand(0, { n: 3 }));
      scope.free(out);
      s.replace(out);
    } finally {
      scope.free(s.image);
    }
  },
};
