// The transform as lists of named steps over an image, in the manner of imgproxy's
// processing pipeline: each step is a module of codecs/steps/ that reads and replaces
// `state.image` (steps/state.ts); `State.replace` frees the previous handle, because wasm-vips
// objects live in wasm memory and the JS garbage collector never frees them.
//
// Order: load (with shrink-on-load) → orient → crop → srgb → resize → pad → effects → canvas
// → watermark → padding → flatten → metadata → encode. An animation kept animated runs the
// frame steps on each frame, then encodes them as one file.

import type { Prepared } from "./decoders/index.ts";
import { DEFAULT_EFFORT, type Effort } from "./effort.ts";
import { extend, extendAspectRatio, padding } from "./steps/canvas.ts";
import { crop } from "./steps/crop.ts";
import { EFFECT_STEPS } from "./steps/effects.ts";
import { encode, encodeAnimation } from "./steps/encode.ts";
import { flatten } from "./steps/flatten.ts";
import { load } from "./steps/load.ts";
import { metadata } from "./steps/metadata.ts";
import { orient } from "./steps/orient.ts";
import { pad } from "./steps/pad.ts";
import { resize } from "./steps/resize.ts";
import { srgb } from "./steps/srgb.ts";
import { type Codecs, type Limits, State, type Step } from "./steps/state.ts";
import { watermark } from "./steps/watermark.ts";
import { OUTPUT_MIME, type TransformInput, type TransformResult, type TransformSpec } from "./types.ts";
import type { VipsImage } from "./wasm.ts";

export { inspect } from "./inspect.ts";
export { restrictLoaders } from "./steps/source.ts";
export type { Codecs, Limits } from "./steps/state.ts";

/** The steps applied to each frame of an animation, and to a still image between orient and flatten. */
export const FRAME_STEPS: readonly Step[] = [
  crop,
  srgb,
  resize,
  pad,
  ...EFFECT_STEPS,
  extend,
  extendAspectRatio,
  watermark,
  padding,
];

/** What a still image goes through after `load`. */
export const STILL_STEPS: readonly Step[] = [orient, ...FRAME_STEPS, flatten, metadata, encode];

export function transform(
  codecs: Codecs,
  source: Prepared,
  spec: TransformSpec,
  limits: Limits = {},
  effort: Effort = DEFAULT_EFFORT,
  input: TransformInput = {},
): TransformResult {
  const s = new State(codecs, source, spec, limits, effort, input);
  try {
    // Loading decides the path: still (one decoded image) or every frame of an animation.
    load.run(s);
    if (s.animation) return transformFrames(s);
    for (const step of STILL_STEPS) step.run(s);
    const out: TransformResult = {
      data: s.output!,
      format: s.format,
      mime: OUTPUT_MIME[s.format],
      width: s.image.width,
      height: s.image.height,
    };
    if (s.quality !== undefined) out.quality = s.quality;
    return out;
  } finally {
    s.dispose();
  }
}

/**
 * An animation to GIF or WebP: the frame steps on each frame (all share what `load` planned),
 * then one animated file with the source's delays and loop count.
 */
function transformFrames(s: State): TransformResult {
  const { pages, pageHeight } = s.animation!;
  const full = s.image;
  const frames: VipsImage[] = [];
  try {
    for (let i = 0; i < pages; i++) {
      const f = s.forFrame(full.extractArea(0, i * pageHeight, full.width, pageHeight));
      try {
        for (const step of FRAME_STEPS) step.run(f);
        // Frames must share a band layout to be stacked again (pad may add alpha to some).
        frames.push(f.take());
      } finally {
        f.dispose();
      }
    }
    const { width, height } = frames[0]!;
    const data = encodeAnimation(s, frames);
    return { data, format: s.format, mime: OUTPUT_MIME[s.format], width, height, frames: pages };
  } finally {
    for (const f of frames) f.delete();
  }
}
