// crop: spec.crop, mapped from source pixels onto the possibly shrunk decode.

import type { Step } from "./state.ts";

export const crop: Step = {
  name: "crop",
  run(s) {
    const img = s.image;
    const r = s.region;
    if (r.width === s.sourceWidth && r.height === s.sourceHeight) return;
    const kx = img.width / s.sourceWidth;
    const ky = img.height / s.sourceHeight;
    if (s.spec.smartCrop) {
      // smartcrop scans the whole decode: give it random access.
      s.replace(img.copyMemory());
      const w = Math.max(1, Math.min(s.image.width, Math.round(r.width * kx)));
      const h = Math.max(1, Math.min(s.image.height, Math.round(r.height * ky)));
      s.replace(s.image.smartcrop(w, h, { interesting: s.spec.smartCrop, premultiplied: false }));
      return;
    }
    const left = Math.min(Math.floor(r.left * kx), img.width - 1);
    const top = Math.min(Math.floor(r.top * ky), img.height - 1);
    const width = Math.max(1, Math.min(img.width - left, Math.round(r.width * kx)));
    const height = Math.max(1, Math.min(img.height - top, Math.round(r.height * ky)));
    s.replace(img.extractArea(left, top, width, height));
  },
};
