// What every step of the pipeline shares: the image being worked on and what earlier steps
// learnt about it. Apart from pipeline.ts so that steps can live in their own modules.

import type { Prepared } from "../decoders/index.ts";
import type { Effort } from "../effort.ts";
import type { Plan } from "../geometry.ts";
import type { OutputFormat, TransformInput, TransformSpec } from "../types.ts";
import type { Vips, VipsImage, WebpEncoder } from "../wasm.ts";
import type { Keep } from "../webp.ts";

/** The encoders a worker holds: wasm-vips for everything, jsquash's libwebp for lossy WebP. */
export interface Codecs {
  vips: Vips;
  webp: WebpEncoder;
}

export interface Limits {
  /** Refuse sources with more pixels than this (width × height × frames of an animation). */
  maxSourcePixels?: number;
  /** Refuse animations with more frames than this. */
  maxAnimationFrames?: number;
  /** Refuse transforms that cost more than this (codecs/cost.ts), every frame counted. */
  maxTransformCost?: number;
}

export type Rect = { left: number; top: number; width: number; height: number };

export class State {
  #image: VipsImage | null = null;
  /** Upright size of the whole source, in source pixels. */
  sourceWidth = 0;
  sourceHeight = 0;
  /** The part of the source that is kept (spec.crop, clamped), in upright source pixels. */
  region: Rect = { left: 0, top: 0, width: 0, height: 0 };
  plan: Plan = { resize: { width: 0, height: 0 } };
  loader = "";
  orientation = 1;
  hadProfile = false;
  /** The source's own ICC profile, for `colorProfile: "keep"`. */
  sourceProfile: Uint8Array | null = null;
  keep: Keep = "none";
  /** Set when every frame of an animated source is kept: `image` is then all frames stacked. */
  animation: { pages: number; pageHeight: number; delays: number[]; loop: number } | null = null;
  format: OutputFormat;
  output: Uint8Array | null = null;
  /** The quality auto-quality settled on. */
  quality: number | undefined;

  readonly vips: Vips;

  constructor(
    readonly codecs: Codecs,
    readonly source: Prepared,
    readonly spec: TransformSpec,
    readonly limits: Limits,
    readonly effort: Effort,
    readonly input: TransformInput = {},
  ) {
    this.vips = codecs.vips;
    this.format = spec.format;
  }

  get image(): VipsImage {
    if (!this.#image) throw new Error("pipeline: no image loaded");
    return this.#image;
  }

  /** Makes `next` the current image and frees the previous handle. */
  replace(next: VipsImage): void {
    if (this.#image && this.#image !== next) this.#image.delete();
    this.#image = next;
  }

  /**
   * Renders the image to memory, once: operations that read out of order (flips, rotations,
   * a histogram before the pass that uses it) fail on a sequential decode.
   */
  materialize(): void {
    if (this.#materialized) return;
    this.replace(this.image.copyMemory());
    this.#materialized = true;
  }
  #materialized = false;

  /**
   * A state for one frame of this animation: everything the steps so far learnt (every public
   * field, copied as a whole so that a field added later travels too), with `image` as its own
   * image and no animation of its own. The caller disposes of it.
   */
  forFrame(image: VipsImage): State {
    const f = new State(this.codecs, this.source, this.spec, this.limits, this.effort, this.input);
    Object.assign(f, this);
    f.animation = null;
    f.replace(image);
    return f;
  }

  /** Hands the current image over to the caller, who must delete it. */
  take(): VipsImage {
    const img = this.image;
    this.#image = null;
    return img;
  }

  dispose(): void {
    this.#image?.delete();
    this.#image = null;
  }
}

export interface Step {
  name: string;
  run(s: State): void;
}
