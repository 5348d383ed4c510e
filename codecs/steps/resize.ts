// resize: to the planned size (lanczos3 unless spec.kernel), then `cover` cuts its box by
// gravity, focal point or smartcrop.

import { anchor } from "./helpers.ts";
import type { Step } from "./state.ts";

export const resize: Step = {
  name: "resize",
  run(s) {
    const { width, height } = s.plan.resize;
    let img = s.image;
    if (img.width !== width || img.height !== height) {
      // Premultiplied resampling, or transparent pixels bleed their colour into the edges.
      const alpha = img.hasAlpha();
      const pre = alpha ? img.premultiply() : img;
      const scaled = pre.resize(width / img.width, {
        vscale: height / img.height,
        kernel: s.spec.kernel ?? "lanczos3",
      });
      if (pre !== img) pre.delete();
      if (alpha) {
        const un = scaled.unpremultiply();
        scaled.delete();
        s.replace(un.cast("uchar"));
        un.delete();
      } else s.replace(scaled);
      img = s.image;
    }
    const box = s.plan.box;
    if (s.spec.fit !== "cover" || !box || (img.width === box.width && img.height === box.height)) return;
    const w = Math.min(box.width, img.width);
    const h = Math.min(box.height, img.height);
    const g = s.spec.gravity;
    if ((g === "attention" || g === "entropy") && !s.spec.focus) {
      // smartcrop scans the image before cutting: give it random access to the small result.
      s.replace(img.copyMemory());
      s.replace(s.image.smartcrop(w, h, { interesting: g, premultiplied: false }));
    } else {
      let { left, top } = anchor(g, img.width, img.height, w, h);
      const focus = s.spec.focus;
      if (focus) {
        left = Math.round(focus[0] * img.width - w / 2);
        top = Math.round(focus[1] * img.height - h / 2);
      }
      if (s.spec.offset) {
        left += s.spec.offset[0];
        top += s.spec.offset[1];
      }
      left = Math.max(0, Math.min(img.width - w, left));
      top = Math.max(0, Math.min(img.height - h, top));
      s.replace(img.extractArea(left, top, w, h));
    }
  },
};
