// A fixed set of codec workers with a bounded queue and per-job deadlines. The pool, not the
// worker, owns every failure policy: what is refused before decoding, when a worker is
// killed, and what the caller is told.

import { DEFAULT_EFFORT } from "./effort.ts";
import { probe } from "./probe/index.ts";
import type { Limits } from "./pipeline.ts";
import type { CodecPoolOptions, CodecPoolStats } from "./pool-options.ts";
import type { Request, WorkerMemory } from "./protocol.ts";
import {
  CodecError,
  type InspectResult,
  type ProbeResult,
  type TransformInput,
  type TransformResult,
  type TransformSpec,
} from "./types.ts";
import { type DoneReply, type Slot, Workers } from "./workers.ts";

export { type CodecPoolOptions, type CodecPoolStats, defaultPoolSize } from "./pool-options.ts";

export interface JobOptions {
  /**
   * Hand the bytes' ArrayBuffer to the worker instead of copying it. The caller's buffer is
   * detached afterwards, so only set this for bytes nobody reads again. For a lazy source it
   * applies to the bytes the loader returns.
   */
  transfer?: boolean;
  /** Bytes the transform needs besides the source (a watermark image), copied to the worker. */
  input?: TransformInput;
  /**
   * What the caller's probe of these bytes found (an upload checked its header as it arrived):
   * trusted instead of probing again, here or in the worker.
   */
  header?: ProbeResult;
}

/**
 * The encoded source image: its bytes, or a lazy source (a loader, or a staged blob's `read`)
 * called only when a worker is about to take the job, so that queued jobs hold no image bytes
 * (at most one loaded source per worker). A loader's rejection (or throw) rejects the job with
 * that same error.
 */
export type Source = Uint8Array | (() => Promise<Uint8Array>) | { read(): Promise<Uint8Array> };

const isLazy = (s: Source): s is Exclude<Source, Uint8Array> =>
  typeof s === "function" ||
  (typeof s === "object" && s !== null && typeof (s as { read?: unknown }).read === "function");

type JobBody =
  | { kind: "transform"; source: Source; spec: TransformSpec; input?: TransformInput }
  | { kind: "inspect"; source: Source }
  | { kind: "crash" };

interface Job {
  id: number;
  body: JobBody;
  transfer: boolean;
  /** The source's header: the caller's, or the pool's probe once the bytes are at hand. */
  header?: ProbeResult;
  /** The request has reached the worker (false while a lazy source is being loaded). */
  sent: boolean;
  resolve(value: unknown): void;
  /** A CodecError, or whatever a lazy source's loader failed with. */
  reject(error: unknown): void;
}

type PoolSlot = Slot<Job>;

/** The first bytes probe() is given, as the server does for uploads. */
const PROBE_BYTES = 1 << 20;

export class CodecPool {
  readonly #options: Required<CodecPoolOptions>;
  readonly #workers: Workers<Job>;
  readonly #queue: Job[] = [];
  #nextId = 1;
  #closed = false;
  #starting: Promise<void> | null = null;
  #counters = { completed: 0, failed: 0, rejected: 0, timeouts: 0 };

  constructor(options: CodecPoolOptions) {
    if (!(options.size >= 1)) throw new RangeError("CodecPool: size must be at least 1");
    if (!(options.maxQueue >= 0)) throw new RangeError("CodecPool: maxQueue must be at least 0");
    this.#options = {
      startTimeoutMs: 30_000,
      maxAnimationFrames: 200,
      maxTransformCost: Number.POSITIVE_INFINITY,
      effort: DEFAULT_EFFORT,
      ...options,
    };
    this.#workers = new Workers<Job>(this.#options.startTimeoutMs, {
      ready: () => this.#drain(),
      done: (slot, reply) => this.#onDone(slot, reply),
      died: (slot, message) => this.#onWorkerDeath(slot, message),
    });
  }

  /**
   * Spawns the workers; resolves when every one has loaded wasm-vips and warmed up. Jobs may be
   * submitted before that: they wait in the queue and go to the first worker that is warm, so
   * a server can listen at once instead of after the workers' start-up.
   */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    if (this.#closed) throw new CodecError("closed", "codec pool is closed");
    try {
      await this.#workers.start(this.#options.size);
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  /**
   * Runs the transform in a worker. Bytes given directly are checked from their header at
   * once (unrecognised or over the pixel limit: refused without queueing); a lazy source is
   * checked the same way as soon as its loader has returned.
   */
  transform(source: Source, spec: TransformSpec, options: JobOptions = {}): Promise<TransformResult> {
    return this.#submit({ kind: "transform", source, spec, input: options.input }, options) as Promise<TransformResult>;
  }

  /** Full decode as validation, plus upright size, alpha, pages and dominant colour. */
  inspect(source: Source, options: JobOptions = {}): Promise<InspectResult> {
    return this.#submit({ kind: "inspect", source }, options) as Promise<InspectResult>;
  }

  /**
   * Test hook: runs a job that makes its worker exit abruptly. The job rejects with
   * `worker_crashed` and the worker is replaced, exactly as for a real crash.
   */
  crashOneWorker(): Promise<never> {
    return this.#submit({ kind: "crash" }, {}) as Promise<never>;
  }

  stats(): CodecPoolStats {
    const live = this.#workers.live();
    return {
      workers: live.length,
      busy: live.filter((s) => s.job).length,
      queued: this.#queue.length,
      ...this.#counters,
      restarts: this.#workers.restarts,
      vipsBytes: live.reduce((n, s) => n + (s.memory?.vipsBytes ?? 0), 0),
    };
  }

  /** Last memory report of each worker (null before its first job); for leak checks. */
  workerMemory(): (WorkerMemory | null)[] {
    return this.#workers.memory();
  }

  /** Rejects queued and running jobs with `closed` and terminates the workers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const job of this.#queue.splice(0)) {
      this.#counters.rejected++;
      job.reject(new CodecError("closed", "codec pool is closed"));
    }
    for (const slot of this.#workers.all()) {
      if (!slot.job) continue;
      this.#counters.failed++;
      this.#finish(slot)?.reject(new CodecError("closed", "codec pool is closed"));
    }
    this.#workers.close(new CodecError("closed", "codec pool is closed"));
  }

  // ---------------------------------------------------------------------------------------

  #submit(body: JobBody, options: JobOptions): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const refuse = (code: "closed" | "queue_full" | "too_large" | "invalid_image", message: string) => {
        this.#counters.rejected++;
        reject(new CodecError(code, message));
      };
      if (this.#closed) return refuse("closed", "codec pool is closed");
      let header = options.header;
      if (body.kind !== "crash" && !header && !isLazy(body.source)) {
        const checked = this.#precheck(body.source);
        if (checked instanceof CodecError)
          return refuse(checked.code as "too_large" | "invalid_image", checked.message);
        header = checked;
      }
      const job: Job = {
        id: this.#nextId++,
        body,
        transfer: options.transfer === true,
        header,
        sent: false,
        resolve,
        reject,
      };
      const slot = this.#workers.idle();
      if (slot) return this.#dispatch(slot, job);
      if (this.#queue.length >= this.#options.maxQueue) {
        return refuse("queue_full", `codec queue is full (${this.#options.maxQueue} waiting)`);
      }
      this.#queue.push(job);
    });
  }

  /** Refuses from the header what no worker should ever try to decode; else the header. */
  #precheck(bytes: Uint8Array): CodecError | ProbeResult {
    if (!(bytes instanceof Uint8Array)) return new CodecError("invalid_image", "source is not a Uint8Array");
    const head = probe(bytes.subarray(0, PROBE_BYTES));
    if (!head) return new CodecError("invalid_image", "not a recognised image format");
    const pixels = head.width * head.height;
    if (pixels > this.#options.maxSourcePixels) {
      return new CodecError(
        "too_large",
        `source is ${head.width}×${head.height}, over the limit of ${this.#options.maxSourcePixels} pixels`,
      );
    }
    return head;
  }

  #dispatch(slot: PoolSlot, job: Job): void {
    slot.job = job;
    // The deadline covers loading a lazy source too, so a hung loader cannot hold a worker.
    slot.timer = setTimeout(() => this.#onTimeout(slot, job), this.#options.jobTimeoutMs);
    const body = job.body;
    if (body.kind === "crash") return this.#post(slot, job, null);
    const source = body.source;
    if (!isLazy(source)) return this.#post(slot, job, source);
    let loading: Promise<Uint8Array>;
    try {
      loading = Promise.resolve(typeof source === "function" ? source() : source.read());
    } catch (e) {
      loading = Promise.reject(e);
    }
    const current = () => slot.job === job && this.#workers.holds(slot);
    loading.then(
      (bytes) => {
        if (!current()) return; // timed out, closed, or the worker died meanwhile
        const checked = job.header ?? this.#precheck(bytes);
        if (!(checked instanceof CodecError)) {
          job.header = checked;
          return this.#post(slot, job, bytes);
        }
        const refusal = checked;
        this.#finish(slot);
        this.#counters.rejected++;
        job.reject(refusal);
        this.#drain();
      },
      (e: unknown) => {
        if (!current()) return;
        this.#finish(slot);
        this.#counters.failed++;
        job.reject(e);
        this.#drain();
      },
    );
  }

  /** Sends the job (with its bytes, unless it is the crash hook) to the slot's worker. */
  #post(slot: PoolSlot, job: Job, bytes: Uint8Array | null): void {
    const limits: Limits = {
      maxSourcePixels: this.#options.maxSourcePixels,
      maxAnimationFrames: this.#options.maxAnimationFrames,
      maxTransformCost: this.#options.maxTransformCost,
    };
    const body = job.body;
    const request: Request =
      body.kind === "crash"
        ? { id: job.id, kind: "crash" }
        : body.kind === "transform"
          ? {
              id: job.id,
              kind: "transform",
              bytes: bytes!,
              format: job.header!.format,
              spec: body.spec,
              limits,
              effort: this.#options.effort,
              input: body.input,
            }
          : { id: job.id, kind: "inspect", bytes: bytes!, format: job.header!.format, limits };
    const transfer: Transferable[] = [];
    if (job.transfer && bytes) transfer.push(bytes.buffer as ArrayBuffer);
    job.sent = true;
    try {
      slot.worker.postMessage(request, transfer);
    } catch (e) {
      // e.g. a non-transferable buffer: the job never reached the worker.
      this.#finish(slot);
      this.#counters.failed++;
      job.reject(new CodecError("invalid_image", `cannot send job to worker: ${String(e)}`));
      this.#drain();
    }
  }

  /** Detaches the slot's current job and its timer; returns the job. */
  #finish(slot: PoolSlot): Job | null {
    const job = slot.job;
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.job = null;
    return job;
  }

  #drain(): void {
    for (;;) {
      if (this.#queue.length === 0) return;
      const slot = this.#workers.idle();
      if (!slot) return;
      this.#dispatch(slot, this.#queue.shift()!);
    }
  }

  #onDone(slot: PoolSlot, reply: DoneReply): void {
    const job = slot.job;
    if (!job || job.id !== reply.id) return;
    this.#finish(slot);
    if (reply.memory) slot.memory = reply.memory;
    if (reply.ok) {
      this.#counters.completed++;
      job.resolve(reply.value);
    } else {
      this.#counters.failed++;
      job.reject(new CodecError(reply.code, reply.message));
      if (reply.fatal) return this.#workers.replace(slot);
    }
    this.#drain();
  }

  #onTimeout(slot: PoolSlot, job: Job): void {
    if (slot.job !== job) return;
    this.#finish(slot);
    this.#counters.timeouts++;
    this.#counters.failed++;
    job.reject(new CodecError("timeout", `codec job ran past ${this.#options.jobTimeoutMs} ms`));
    // Still loading its source: the worker never saw the job and stays as it is.
    if (!job.sent) return this.#drain();
    // The worker is stuck inside wasm and cannot be interrupted: only terminate() stops it.
    this.#workers.replace(slot);
  }

  /** The worker is replaced right after (workers.ts). */
  #onWorkerDeath(slot: PoolSlot, message: string): void {
    const job = this.#finish(slot);
    if (job) {
      this.#counters.failed++;
      job.reject(new CodecError("worker_crashed", `codec worker died: ${message}`));
    }
  }
}
