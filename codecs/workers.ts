// The pool's workers: spawning, readiness, and replacement after a crash, a timeout or a failed
// start. Which job a worker runs, and what its answer means, is the pool's business (pool.ts).

import type { Reply, WorkerMemory } from "./protocol.ts";
import { workerScriptUrl } from "./wasm.ts";

/** One worker as the pool holds it: the Worker, its readiness, the job it runs and its timers. */
export interface Slot<Job> {
  index: number;
  worker: Worker;
  ready: boolean;
  job: Job | null;
  timer: ReturnType<typeof setTimeout> | null;
  memory: WorkerMemory | null;
  startTimer: ReturnType<typeof setTimeout> | null;
}

export type DoneReply = Extract<Reply, { type: "done" }>;

/** What the workers tell the pool. */
export interface WorkerEvents<Job> {
  /** A worker became ready for a job. */
  ready(): void;
  /** A worker answered. */
  done(slot: Slot<Job>, reply: DoneReply): void;
  /** A worker died (its job, if any, is lost); it is replaced right after. */
  died(slot: Slot<Job>, message: string): void;
}

export class Workers<Job> {
  readonly #slots: (Slot<Job> | null)[] = [];
  /** Waiters for a slot becoming ready (used by start()). */
  readonly #readyWaiters = new Map<number, { resolve(): void; reject(e: Error): void }>();
  #closed = false;
  /** Workers replaced after a crash or a timeout. */
  restarts = 0;

  constructor(
    readonly startTimeoutMs: number,
    readonly events: WorkerEvents<Job>,
  ) {}

  /** Spawns `size` workers; resolves when every one is ready, rejects if one fails to start. */
  async start(size: number): Promise<void> {
    const ready: Promise<void>[] = [];
    for (let i = 0; i < size; i++) ready.push(this.#spawn(i));
    await Promise.all(ready);
  }

  /** Every slot, ready or starting. */
  all(): Slot<Job>[] {
    return this.#slots.filter((s): s is Slot<Job> => s !== null);
  }

  live(): Slot<Job>[] {
    return this.all().filter((s) => s.ready);
  }

  idle(): Slot<Job> | null {
    for (const s of this.#slots) if (s && s.ready && !s.job) return s;
    return null;
  }

  /** Whether `slot` is still the worker at its place (not replaced or closed meanwhile). */
  holds(slot: Slot<Job>): boolean {
    return this.#slots[slot.index] === slot;
  }

  memory(): (WorkerMemory | null)[] {
    return this.#slots.map((s) => s?.memory ?? null);
  }

  /** Terminates every worker; start() still waiting rejects with `error`. */
  close(error: Error): void {
    this.#closed = true;
    for (const slot of this.#slots) {
      if (!slot) continue;
      slot.worker.terminate();
      if (slot.startTimer) clearTimeout(slot.startTimer);
    }
    this.#slots.fill(null);
    for (const [, w] of this.#readyWaiters) w.reject(error);
    this.#readyWaiters.clear();
  }

  /** Terminates the worker (stuck, crashed or untrustworthy) and spawns another in its place. */
  replace(slot: Slot<Job>): void {
    if (this.#slots[slot.index] !== slot) return;
    this.#slots[slot.index] = null;
    slot.ready = false;
    slot.worker.terminate();
    this.restarts++;
    this.#respawn(slot.index);
  }

  #spawn(index: number): Promise<void> {
    const worker = new Worker(workerScriptUrl(), { type: "module" });
    const slot: Slot<Job> = { index, worker, ready: false, job: null, timer: null, memory: null, startTimer: null };
    this.#slots[index] = slot;
    const ready = new Promise<void>((resolve, reject) => this.#readyWaiters.set(index, { resolve, reject }));
    slot.startTimer = setTimeout(() => this.#onStartFailure(slot, "worker did not start in time"), this.startTimeoutMs);

    worker.addEventListener("message", (event: MessageEvent<Reply>) => this.#onMessage(slot, event.data));
    worker.addEventListener("error", (event: Event) => {
      // Stop the error from propagating to the main thread's global scope (Deno rethrows it).
      event.preventDefault();
      const message = (event as ErrorEvent).message || "worker error";
      if (!slot.ready) this.#onStartFailure(slot, message);
      else this.#onDeath(slot, message);
    });
    // Bun (and Node-style workers) report a worker's exit; elsewhere the job deadline catches it.
    worker.addEventListener("close", () => {
      if (this.#slots[slot.index] === slot) this.#onDeath(slot, "worker exited");
    });
    return ready;
  }

  #onMessage(slot: Slot<Job>, reply: Reply): void {
    if (this.#slots[slot.index] !== slot) return; // a replaced worker's last words
    if (reply.type === "ready") {
      if (slot.startTimer) clearTimeout(slot.startTimer);
      slot.ready = true;
      const waiter = this.#readyWaiters.get(slot.index);
      this.#readyWaiters.delete(slot.index);
      waiter?.resolve();
      this.events.ready();
      return;
    }
    if (reply.type === "init-failed") return this.#onStartFailure(slot, reply.message);
    this.events.done(slot, reply);
  }

  #onDeath(slot: Slot<Job>, message: string): void {
    if (this.#slots[slot.index] !== slot) return;
    this.events.died(slot, message);
    this.replace(slot);
  }

  #onStartFailure(slot: Slot<Job>, message: string): void {
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

  #respawn(index: number): void {
    if (this.#closed || this.#slots[index]) return;
    // Replacement readiness is observed through the `ready` event, not awaited.
    this.#spawn(index).catch(() => {});
    // Without a waiter, a failing replacement goes through the retry path of #onStartFailure.
    this.#readyWaiters.delete(index);
  }
}
