import type { Db } from "../../db/connection.ts";
import type { Leases } from "../../db/leases.ts";
import type { WebhookDeliveriesTable } from "../../db/schema.ts";
import type { Selectable } from "kysely";
import { signedHeaders } from "./signature.ts";

// The outbox's delivering side. Each pass takes the due deliveries that are first in line for
// their endpoint and image (a later event of one image waits for the earlier one to be
// delivered or given up), and sends each under a lease (src/db/leases.ts) of its own: on
// PostgreSQL every node runs a dispatcher, and the lease plus a second look at the row once it
// is held make each delivery go out from one node only. An attempt that fails is tried again
// after the next delay of the schedule; past its end the delivery is given up.

type Delivery = Selectable<WebhookDeliveriesTable>;

export interface DispatcherDeps {
  db: Db;
  leases: Leases;
  /** The SSRF-safe fetcher with the webhook networks (IMGD_WEBHOOK_ALLOW_NETWORKS). */
  post: (url: string, headers: Record<string, string>, body: Uint8Array) => Promise<{ status: number }>;
  /** Milliseconds to wait after the 1st, 2nd, … failed attempt; past the last, given up. */
  delays: number[];
  now: () => number;
  log: (line: string) => void;
  /** The fallback look (other nodes' events, retries that came due). */
  pollMs: number;
  /** A delivery's claim; renewed while its attempt runs, so it may be shorter than the attempt. */
  leaseMs: number;
}

/** Attempts under way at once in this process; a slow endpoint holds up only its own slot. */
const MAX_IN_FLIGHT = 16;
const ERROR_MAX = 500;

export class Dispatcher {
  #running = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #kick: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  /** A wake that came while a pass ran: look again before waiting. */
  #woken = false;
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(private readonly d: DispatcherDeps) {}

  start() {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop() {
    this.#running = false;
    this.#kick?.();
    await this.#loop;
    await Promise.allSettled(this.#inFlight.values());
  }

  /**
   * Something was written to the outbox. Called inside the writing transaction, so the look
   * comes a moment later, and once more in case the commit took longer than that.
   */
  wake() {
    for (const ms of [15, 250]) setTimeout(() => this.#again(), ms);
  }

  async #run() {
    while (this.#running) {
      let busy = false;
      this.#woken = false;
      try {
        busy = (await this.pass()) > 0;
      } catch (err) {
        this.d.log(`webhook dispatcher: ${(err as Error).message}`);
      }
      if (!this.#running) break;
      if (busy || this.#woken) continue;
      await new Promise<void>((resolve) => {
        this.#kick = resolve;
        this.#timer = setTimeout(resolve, this.d.pollMs);
      });
      if (this.#timer) clearTimeout(this.#timer);
      this.#kick = null;
    }
  }

  /**
   * One look: starts sending what is due and first in line (not waiting for the answers);
   * answers how many it started. An attempt that ends looks again.
   */
  async pass(): Promise<number> {
    const room = MAX_IN_FLIGHT - this.#inFlight.size;
    if (room <= 0) return 0;
    const now = this.d.now();
    const due = await this.d.db
      .selectFrom("webhook_deliveries as d")
      .selectAll("d")
      .where("d.status", "=", "pending")
      .where("d.next_at", "<=", now)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom("webhook_deliveries as e")
              .select("e.id")
              .whereRef("e.webhook_id", "=", "d.webhook_id")
              .whereRef("e.order_key", "=", "d.order_key")
              .where("e.status", "=", "pending")
              .whereRef("e.id", "<", "d.id"),
          ),
        ),
      )
      .orderBy("d.id")
      .limit(MAX_IN_FLIGHT)
      .execute();
    let started = 0;
    for (const row of due) {
      if (started >= room || this.#inFlight.has(row.id)) continue;
      started++;
      const attempt = this.#attempt(row)
        .catch((err) => {
          this.d.log(`webhook delivery ${row.id}: ${(err as Error).message}`);
          return false;
        })
        .then((did) => {
          this.#inFlight.delete(row.id);
          // Only an attempt that did something looks again: one whose lease another node holds would spin.
          if (did) this.#again();
        });
      this.#inFlight.set(row.id, attempt);
    }
    return started;
  }

  #again() {
    this.#woken = true;
    this.#kick?.();
  }

  async #attempt(seen: Delivery): Promise<boolean> {
    const lease = await this.d.leases.acquire(`webhook:${seen.id}`, this.d.leaseMs);
    if (!lease) return false;
    try {
      // Held now: another node may have sent it between the look and the lease.
      const row = await this.d.db
        .selectFrom("webhook_deliveries")
        .selectAll()
        .where("id", "=", seen.id)
        .where("status", "=", "pending")
        .where("attempts", "=", seen.attempts)
        .executeTakeFirst();
      if (!row) return false;
      const hook = await this.d.db
        .selectFrom("webhooks")
        .select(["url", "secret"])
        .where("id", "=", row.webhook_id)
        .executeTakeFirst();
      if (!hook) return false;
      const headers = {
        "content-type": "application/json",
        "user-agent": "imgd-webhooks/1",
        ...signedHeaders(hook.secret, row.message_id, Math.floor(this.d.now() / 1000), row.payload),
      };
      let status: number | null = null;
      let error: string | null = null;
      try {
        status = (await this.d.post(hook.url, headers, new TextEncoder().encode(row.payload))).status;
        if (status < 200 || status > 299) error = `the endpoint answered HTTP ${status}`;
      } catch (err) {
        error = (err as Error).message.replace(/^url: /, "");
      }
      await this.#record(row, status, error);
      return true;
    } finally {
      await lease.release().catch(() => {});
    }
  }

  async #record(row: Delivery, status: number | null, error: string | null) {
    const now = this.d.now();
    const attempts = row.attempts + 1;
    const delay = this.d.delays[attempts - 1];
    const outcome =
      error === null
        ? { status: "delivered" as const, finished_at: now }
        : delay === undefined
          ? { status: "failed" as const, finished_at: now }
          : { status: "pending" as const, next_at: now + delay };
    await this.d.db
      .updateTable("webhook_deliveries")
      .set({ ...outcome, attempts, last_status: status, last_error: error?.slice(0, ERROR_MAX) ?? null })
      .where("id", "=", row.id)
      .where("status", "=", "pending")
      .execute();
    if (outcome.status === "failed")
      this.d.log(`webhook delivery ${row.id} (${row.type}) given up after ${attempts} attempts: ${error}`);
  }

  /** Drops finished deliveries older than `ageMs` (the sweeper's job). */
  async prune(ageMs: number) {
    await this.d.db
      .deleteFrom("webhook_deliveries")
      .where("status", "!=", "pending")
      .where("finished_at", "<", this.d.now() - ageMs)
      .execute();
  }
}

/** IMGD_WEBHOOK_RETRY_DELAYS (seconds, comma-separated) in ms; empty: about 5 s, 30 s, 2 min, 10 min, 1 h, then hourly to 24 h. */
export function retryDelays(setting: string): number[] {
  const list = setting
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => Number(s) * 1000);
  return list.length ? list : [5, 30, 120, 600, 3600, ...Array<number>(22).fill(3600)].map((s) => s * 1000);
}
