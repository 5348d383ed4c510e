// load: reads the header, checks it against the limits, plans the geometry, then decodes at
// the smallest size that suffices (shrink-on-load), or every frame of a kept animation.

import { transformCost } from "../cost.ts";
import type { Effort } from "../effort.ts";
import { type Plan, plan, shrinkOnLoad } from "../geometry.ts";
import { CodecError, type OutputFormat, type TransformSpec } from "../types.ts";
import { checkFrames, checkPixels, LOADERS, open, orientationOf, pagesOf } from "./source.ts";
import type { Limits, Rect, Step } from "./state.ts";

/** Output formats that keep an animated source animated. */
const ANIMATED_OUTPUT: ReadonlySet<OutputFormat> = new Set(["gif", "webp"]);

/** Frame delay when the source has none, in ms (browsers' own default for GIF is about this). */
const DEFAULT_DELAY = 100;

/**
 * An animation's transform cost counts every frame, which only the decoder knows (the server
 * checked one frame's before sending the job).
 */
function checkCost(spec: TransformSpec, region: Rect, p: Plan, frames: number, limits: Limits, effort: Effort) {
  if (limits.maxTransformCost === undefined) return;
  const out = p.box ?? p.resize;
  const cost = transformCost(spec, region.width * region.height, out.width * out.height, frames, effort);
  if (cost > limits.maxTransformCost) {
    throw new CodecError(
      "too_large",
      `transforming all ${frames} frames costs ${Math.ceil(cost)} units, over the limit of ${limits.maxTransformCost} (IMGD_MAX_TRANSFORM_COST): ask for a smaller size, one frame, or fewer effects`,
    );
  }
}

function clampRect(r: Rect | undefined, W: number, H: number): Rect {
  if (!r) return { left: 0, top: 0, width: W, height: H };
  const left = Math.min(Math.max(0, Math.floor(r.left)), W - 1);
  const top = Math.min(Math.max(0, Math.floor(r.top)), H - 1);
  const width = Math.max(1, Math.min(W - left, Math.floor(r.width)));
  const height = Math.max(1, Math.min(H - top, Math.floor(r.height)));
  return { left, top, width, height };
}

export const load: Step = {
  name: "load",
  run(s) {
    const { vips, spec } = s;
    const { image: head, loader } = open(vips, s.source);
    s.replace(head);
    s.loader = loader;
    if (!(s.loader in LOADERS) && loader !== "decoded")
      throw new CodecError("invalid_image", `unsupported format (${s.loader})`);
    const bytes = s.source.bytes!;
    s.orientation = orientationOf(head);
    const swap = s.orientation >= 5;
    s.sourceWidth = swap ? head.height : head.width;
    s.sourceHeight = swap ? head.width : head.height;
    const pages = pagesOf(head);
    const animate = pages > 1 && spec.frame === undefined && ANIMATED_OUTPUT.has(spec.format);
    checkFrames(pages, s.limits);
    checkPixels(s.sourceWidth, s.sourceHeight, s.limits, animate ? pages : 1);
    const frame = spec.frame ?? 0;
    if (frame >= pages)
      throw new CodecError("invalid_image", `frame ${frame} does not exist: the image has ${pages} (numbered from 0)`);

    s.region = clampRect(spec.crop, s.sourceWidth, s.sourceHeight);
    s.plan = plan(s.region.width, s.region.height, spec);
    if (animate) checkCost(spec, s.region, s.plan, pages, s.limits, s.effort);
    if (animate) {
      // Every frame, stacked (libvips' "toilet roll"), composited as they are shown.
      const delays = head.getTypeof("delay") ? head.getArrayInt("delay") : [];
      s.animation = {
        pages,
        pageHeight: head.height,
        delays: Array.from({ length: pages }, (_, i) =>
          delays[i] !== undefined && delays[i]! > 0 ? delays[i]! : DEFAULT_DELAY,
        ),
        loop: head.getTypeof("loop") ? head.getInt("loop") : 0,
      };
      // (`n` is an option of the GIF and WebP loaders that the generic typing does not list.)
      s.replace(vips.Image.newFromBuffer(bytes, "", { n: -1, fail_on: "truncated" } as { fail_on: string }));
      return;
    }
    const factor = shrinkOnLoad(s.region.width, s.region.height, s.plan.resize);
    const options = { access: "sequential", fail_on: "truncated", ...(frame > 0 ? { page: frame } : {}) } as const;
    if (frame > 0 && !(s.loader === "webpload" && factor > 1))
      s.replace(vips.Image.newFromBuffer(bytes, "", options as { access: string }));
    if (s.loader === "jpegload" && factor > 1) {
      s.replace(vips.Image.jpegloadBuffer(bytes, { ...options, shrink: factor }));
    } else if (s.loader === "webpload" && factor > 1) {
      s.replace(vips.Image.webploadBuffer(bytes, { ...options, scale: 1 / factor }));
    } else if (s.loader === "svgload") {
      // Vectors are rasterised at the size they will be shown at, never resampled up.
      const need = Math.max(s.plan.resize.width / s.region.width, s.plan.resize.height / s.region.height);
      if (need !== 1) s.replace(vips.Image.svgloadBuffer(bytes, { ...options, scale: need }));
    }
  },
};
