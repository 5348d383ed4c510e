// What a codec pool is configured with and what it reports; the default number of workers.

import type { Effort } from "./effort.ts";

export interface CodecPoolOptions {
  /** Number of workers (each holds one wasm-vips instance and runs one job at a time). */
  size: number;
  /** Jobs allowed to wait for a worker; one more is refused with `queue_full`. */
  maxQueue: number;
  /** Deadline per job, counted from when a worker starts it. */
  jobTimeoutMs: number;
  /** Sources with more (upright) pixels are refused with `too_large` before decoding. */
  maxSourcePixels: number;
  /** Animations with more frames are refused with `too_large` (their frames count toward the pixel limit too). */
  maxAnimationFrames?: number;
  /** Animations whose transform costs more (codecs/cost.ts, every frame counted) are refused with `too_large`. */
  maxTransformCost?: number;
  /** Deadline for a worker to load wasm-vips. */
  startTimeoutMs?: number;
  /** Encoder effort for AVIF and WebP (speed against size). */
  effort?: Effort;
}

export interface CodecPoolStats {
  /** Workers ready or running a job. */
  workers: number;
  busy: number;
  queued: number;
  /** Jobs that produced a result. */
  completed: number;
  /** Jobs that ran and failed (bad input, crash, timeout). */
  failed: number;
  /** Jobs refused without running: queue full, over the pixel limit, unrecognised bytes, closed. */
  rejected: number;
  timeouts: number;
  /** Workers replaced after a crash or a timeout. */
  restarts: number;
  /** Sum over workers of libvips' live allocation, as last reported. */
  vipsBytes: number;
}

/** One worker per core: codec jobs are CPU-bound and single-threaded inside a worker. */
export function defaultPoolSize(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  if (n && n > 0) return n;
  try {
    // Deno and Bun both provide node:os; only reached where navigator lacks the count.
    const os = (
      globalThis as { process?: { getBuiltinModule?(m: string): { cpus(): unknown[] } } }
    ).process?.getBuiltinModule?.("node:os");
    if (os) return Math.max(1, os.cpus().length);
  } catch {
    // fall through
  }
  return 1;
}
