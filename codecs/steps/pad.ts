// pad: `contain` fills the rest of its box with the background, the image placed by gravity.

import { backgroundFor, COMPASS, WHITE } from "./helpers.ts";
import type { Step } from "./state.ts";

export const pad: Step = {
  name: "pad",
  run(s) {
    const box = s.plan.box;
    if (s.spec.fit !== "contain" || !box) return;
    let img = s.image;
    if (img.width === box.width && img.height === box.height) return;
    const bg = s.spec.background ?? WHITE;
    if (bg[3] < 255 && !img.hasAlpha()) {
      s.replace(img.bandjoin(255));
      img = s.image;
    }
    const direction = COMPASS[s.spec.gravity] ?? "centre";
    s.replace(
      img.gravity(direction, box.width, box.height, { extend: "background", background: backgroundFor(img, bg) }),
    );
  },
};
