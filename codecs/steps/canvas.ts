// Steps that add edges: extend (before the watermark), extend to an aspect ratio, and
// padding (last, around everything).

import type { Rgba } from "../types.ts";
import { backgroundFor, COMPASS, WHITE } from "./helpers.ts";
import type { State, Step } from "./state.ts";

function addEdges(s: State, top: number, right: number, bottom: number, left: number, bg: Rgba): void {
  if (!top && !right && !bottom && !left) return;
  if (bg[3] < 255 && !s.image.hasAlpha()) s.replace(s.image.bandjoin(255));
  const img = s.image;
  s.replace(
    img.embed(left, top, img.width + left + right, img.height + top + bottom, {
      extend: "background",
      background: backgroundFor(img, bg),
    }),
  );
}

export const extend: Step = {
  name: "extend",
  run(s) {
    const e = s.spec.extend;
    if (e) addEdges(s, e.top, e.right, e.bottom, e.left, e.background ?? s.spec.background ?? WHITE);
  },
};

export const extendAspectRatio: Step = {
  name: "extend-aspect-ratio",
  run(s) {
    const ratio = s.spec.extendAspectRatio;
    if (!ratio) return;
    const { width: w, height: h } = s.image;
    const W = Math.max(w, Math.round(h * ratio));
    const H = Math.max(h, Math.round(w / ratio));
    if (W === w && H === h) return;
    const bg = s.spec.background ?? WHITE;
    if (bg[3] < 255 && !s.image.hasAlpha()) s.replace(s.image.bandjoin(255));
    const img = s.image;
    const direction = COMPASS[s.spec.gravity] ?? "centre";
    s.replace(img.gravity(direction, W, H, { extend: "background", background: backgroundFor(img, bg) }));
  },
};

export const padding: Step = {
  name: "padding",
  run(s) {
    const p = s.spec.padding;
    if (p) addEdges(s, p[0], p[1], p[2], p[3], s.spec.background ?? WHITE);
  },
};
