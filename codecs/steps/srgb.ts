// srgb: to 8-bit sRGB, before resizing, so that every later step sees the same kind of pixels
// and the background colours of pad and flatten mean the same thing for every source. It runs
// after shrink-on-load and crop, so it touches at most about four times the output's pixels.

import { toSrgb } from "./helpers.ts";
import type { Step } from "./state.ts";

export const srgb: Step = {
  name: "srgb",
  run(s) {
    if (s.spec.colorProfile === "keep" && s.image.getTypeof("icc-profile-data"))
      s.sourceProfile = s.image.getBlob("icc-profile-data").slice();
    const { image, hadProfile } = toSrgb(s.image, s.vips);
    s.replace(image);
    s.hadProfile = hadProfile;
  },
};
