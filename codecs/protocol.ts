// Messages between the pool (main thread) and a codec worker. Plain data only: they cross
// the boundary by structured clone, with ArrayBuffers transferred where the sender gives up
// ownership.

import type { Effort } from "./effort.ts";
import type { Limits } from "./pipeline.ts";
import type {
  CodecErrorCode,
  InputFormat,
  InspectResult,
  TransformInput,
  TransformResult,
  TransformSpec,
} from "./types.ts";

export type Request =
  | {
      id: number;
      kind: "transform";
      bytes: Uint8Array;
      /** The format the pool's (or the upload's) probe found: the worker does not probe again. */
      format: InputFormat;
      spec: TransformSpec;
      limits: Limits;
      effort?: Effort;
      input?: TransformInput;
    }
  | { id: number; kind: "inspect"; bytes: Uint8Array; format: InputFormat; limits: Limits }
  /** Test hook: the worker exits abruptly, as it would on a crash. */
  | { id: number; kind: "crash" };

/** libvips' own accounting, sent with every answer so leaks show up in pool stats. */
export interface WorkerMemory {
  /** Bytes currently allocated by libvips (pixel buffers and friends). */
  vipsBytes: number;
  /** Live libvips allocations; grows without bound if image handles leak. */
  vipsAllocations: number;
}

export type Reply =
  | { type: "ready" }
  | { type: "init-failed"; message: string }
  | { type: "done"; id: number; ok: true; value: TransformResult | InspectResult; memory: WorkerMemory }
  | {
      type: "done";
      id: number;
      ok: false;
      code: CodecErrorCode;
      message: string;
      /** The worker's wasm state can no longer be trusted: replace it. */
      fatal: boolean;
      memory?: WorkerMemory;
    };
