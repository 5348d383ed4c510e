// flatten: formats without alpha get the image composited over the background (white by default).

import { WHITE } from "./helpers.ts";
import type { Step } from "./state.ts";

export const flatten: Step = {
  name: "flatten",
  run(s) {
    if (s.format !== "jpeg" || !s.image.hasAlpha()) return;
    const [r, g, b] = s.spec.background ?? WHITE;
    s.replace(s.image.flatten({ background: [r, g, b] }));
  },
};
