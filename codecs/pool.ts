// A fixed set of codec workers with a bounded queue and per-job deadlines. The pool, not the
// worker, owns every failure policy: what is refused before decoding, when a worker is
// killed, and what the caller is told.

import { DEFAULT_EFFORT, type Effort } from "./effort.ts";
import { probe } from "./probe.ts";
import type { Limits } from "./pipeline.ts";
import type { Reply, Request, WorkerMemory } from "./protocol.ts";
import {
  CodecError,
  type InspectResult,
  type ProbeResult,
  type TransformInput,
  type TransformResult,
  type TransformSpec,
} from "./types.ts";
import { workerScriptUrl } from "./wasm.ts";

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

interface Slot {
  index: number;
  worker: Worker;
  ready: boolean;
  job: Job | null;
  timer: ReturnType<typeof setTimeout> | null;
  memory: WorkerMemory | null;
  startTimer: ReturnType<typeof setTimeout> | null;
}

/** The first bytes probe() is given, as the server does for uploads. */
const PROBE_BYTES = 1 << 20;

export class CodecPool {
  readonly #options: Required<CodecPoolOptions>;
  readonly #slots: (Slot | null)[] = [];
  readonly #queue: Job[] = [];
  #nextId = 1;
  #closed = false;
  #starting: Promise<void> | null = null;
  #counters = { completed: 0, failed: 0, rejected: 0, timeouts: 0, restarts: 0 };
  /** Waiters for a slot becoming ready (used by start()). */
  readonly #readyWaiters = new Map<number, { resolve(): void; reject(e: Error): void }>();

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
    const ready: Promise<void>[] = [];
    for (let i = 0; i < this.#options.size; i++) ready.push(this.#spawn(i));
    try {
      await Promise.all(ready);
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
    const live = this.#slots.filter((s): s is Slot => s !== null && s.ready);
    return {
      workers: live.length,
      busy: live.filter((s) => s.job).length,
      queued: this.#queue.length,
      ...this.#counters,
      vipsBytes: live.reduce((n, s) => n + (s.memory?.vipsBytes ?? 0), 0),
    };
  }

  /** Last memory report of each worker (null before its first job); for leak checks. */
  workerMemory(): (WorkerMemory | null)[] {
    return this.#slots.map((s) => s?.memory ?? null);
  }

  /** Rejects queued and running jobs with `closed` and terminates the workers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const job of this.#queue.splice(0)) {
      this.#counters.rejected++;
      job.reject(new CodecError("closed", "codec pool is closed"));
    }
    for (const slot of this.#slots) {
      if (!slot) continue;
      if (slot.job) {
        this.#counters.failed++;
        this.#finish(slot)?.reject(new CodecError("closed", "codec pool is closed"));
      }
      slot.worker.terminate();
    }
    for (const slot of this.#slots) if (slot?.startTimer) clearTimeout(slot.startTimer);
    this.#slots.fill(null);
    for (const [, w] of this.#readyWaiters) w.reject(new CodecError("closed", "codec pool is closed"));
    this.#readyWaiters.clear();
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
      const slot = this.#idleSlot();
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

  #idleSlot(): Slot | null {
    for (const s of this.#slots) if (s && s.ready && !s.job) return s;
    return null;
  }

  #dispatch(slot: Slot, job: Job): void {
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
    const current = () => slot.job === job && this.#slots[slot.index] === slot;
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
  #post(slot: Slot, job: Job, bytes: Uint8Array | null): void {
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
  #finish(slot: Slot): Job | null {
    const job = slot.job;
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.job = null;
    return job;
  }

  #drain(): void {
    for (;;) {
      if (this.#queue.length === 0) return;
      const slot = this.#idleSlot();
      if (!slot) return;
      this.#dispatch(slot, this.#queue.shift()!);
    }
  }

  #spawn(index: number): Promise<void> {
    const worker = new Worker(workerScriptUrl(), { type: "module" });
    const slot: Slot = { index, worker, ready: false, job: null, timer: null, memory: null, startTimer: null };
    this.#slots[index] = slot;
    const ready = new Promise<void>((resolve, reject) => this.#readyWaiters.set(index, { resolve, reject }));
    slot.startTimer = setTimeout(
      () => this.#onStartFailure(slot, "worker did not start in time"),
      this.#options.startTimeoutMs,
    );

    worker.addEventListener("message", (event: MessageEvent<Reply>) => this.#onMessage(slot, event.data));
    worker.addEventListener("error", (event: Event) => {
      // Stop the error from propagating to the main thread's global scope (Deno rethrows it).
      event.preventDefault();
      const message = (event as ErrorEvent).message || "worker error";
      if (!slot.ready) this.#onStartFailure(slot, message);
      else this.#onWorkerDeath(slot, message);
    });
    // Bun (and Node-style workers) report a worker's exit; elsewhere the job deadline catches it.
    worker.addEventListener("close", () => {
      if (this.#slots[slot.index] === slot) this.#onWorkerDeath(slot, "worker exited");
    });
    return ready;
  }

  #onMessage(slot: Slot, reply: Reply): void {
    if (this.#slots[slot.index] !== slot) return; // a replaced worker's last words
    if (reply.type === "ready") {
      if (slot.startTimer) clearTimeout(slot.startTimer);
      slot.ready = true;
      const waiter = this.#readyWaiters.get(slot.index);
      this.#readyWaiters.delete(slot.index);
      waiter?.resolve();
      this.#drain();
      return;
    }
    if (reply.type === "init-failed") return this.#onStartFailure(slot, reply.message);
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
      if (reply.fatal) return this.#replace(slot);
    }
    this.#drain();
  }

  #onTimeout(slot: Slot, job: Job): void {
    if (slot.job !== job) return;
    this.#finish(slot);
    this.#counters.timeouts++;
    this.#counters.failed++;
    job.reject(new CodecError("timeout", `codec job ran past ${this.#options.jobTimeoutMs} ms`));
    // Still loading its source: the worker never saw the job and stays as it is.
    if (!job.sent) return this.#drain();
    // The worker is stuck inside wasm and cannot be interrupted: only terminate() stops it.
    this.#replace(slot);
  }

  #onWorkerDeath(slot: Slot, message: string): void {
    if (this.#slots[slot.index] !== slot) return;
    const job = this.#finish(slot);
    if (job) {
      this.#counters.failed++;
      job.reject(new CodecError("worker_crashed", `codec worker died: ${message}`));
    }
    this.#replace(slot);
  }

  #onStartFailure(slot: Slot, message: string): void {
    if (this.#slots[slot.index] !== slot || slot.ready) return;
    if (slot.startTimer) clearTimeout(slot.startTimer);
    const waiter = this.#readyWaiters.get(slot.index);
    this.#readyWaiters.delete(slot.index);
    slot.worker.terminate();
    if (waiter) {
      // During start(): fail loudly rather than retry a broken installation forever.
      this.#slots[slot.index] = null;
      waiter.reject(new Error(`codec worker failed to start: ${message}`));
      return;
    }
    // A replacement that failed to start: try again shortly, without spinning.
    this.#slots[slot.index] = null;
    setTimeout(() => this.#respawn(slot.index), 1000);
  }

  #replace(slot: Slot): void {
    if (this.#slots[slot.index] !== slot) return;
    this.#slots[slot.index] = null;
    slot.ready = false;
    slot.worker.terminate();
    this.#counters.restarts++;
    this.#respawn(slot.index);
  }

  #respawn(index: number): void {
    if (this.#closed || this.#slots[index]) return;
    // Replacement readiness is observed through #drain, not awaited.
    this.#spawn(index).catch(() => {});
    // Without a waiter, a failing replacement goes through the retry path of #onStartFailure.
    this.#readyWaiters.delete(index);
  }
}
