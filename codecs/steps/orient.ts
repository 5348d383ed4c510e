// orient: turns the decode upright by its EXIF orientation.

import type { Step } from "./state.ts";

export const orient: Step = {
  name: "orient",
  run(s) {
    if (s.orientation === 1) return;
    // Rotating reads the source out of order, which a sequential decode refuses: render the
    // (already shrunk) decode to memory first.
    s.replace(s.image.copyMemory());
    s.replace(s.image.autorot());
  },
};
