import type { Leases } from "../db/leases.ts";

/**
 * The housekeeping of a running instance (expired images, old sessions, leftovers in the
 * storage): its jobs run at start and then every `intervalMs`, in order, never two rounds at
 * once, and on one node at a time (the others skip the round). An error ends the round and is
 * logged; the next round starts over.
 */
export class Sweeper {
  #timer: ReturnType<typeof setInterval> | null = null;
  #running: Promise<void> | null = null;
  constructor(
    private readonly o: {
      intervalMs: number;
      leases: Leases;
      jobs: (() => Promise<unknown>)[];
      log: (line: string) => void;
    },
  ) {}

  start() {
    this.#timer = setInterval(() => void this.run(), this.o.intervalMs);
    void this.run();
  }

  run(): Promise<void> {
    this.#running ??= this.#round()
      .catch((err) => this.o.log(`sweeper: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => (this.#running = null));
    return this.#running;
  }

  async stop() {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  async #round() {
    const lease = await this.o.leases.acquire("sweep", 60_000);
    if (!lease) return;
    try {
      for (const job of this.o.jobs) await job();
    } finally {
      await lease.release();
    }
  }
}
