import type { Db } from "../db/connection.ts";

export type Metric = "uploads" | "transformations" | "api_requests" | "bandwidth_bytes" | "views";

/** The UTC month a time falls in, as counters are keyed: "2026-02". */
export function periodOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

export function periodBounds(period: string): { start: number; end: number } {
  const [y, m] = period.split("-").map(Number);
  return { start: Date.UTC(y, m - 1, 1), end: Date.UTC(y, m, 1) };
}

/**
 * Monthly counters per tenant, kept in the database (exact under concurrency, survive restarts,
 * shared by every node). Bandwidth is counted on every delivery, so it is buffered and written
 * in batches; the rest is written at once.
 */
export class Usage {
  #pending = new Map<string, number>();
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly db: Db, private readonly now: () => number) {}

  async add(userId: string, metric: Metric, n = 1) {
    if (n === 0) return;
    await this.db
      .insertInto("usage_counters")
      .values({ user_id: userId, period: periodOf(this.now()), metric, value: n })
      .onConflict((oc) => oc.columns(["user_id", "period", "metric"]).doUpdateSet((eb) => ({ value: eb("usage_counters.value", "+", n) })))
      .execute();
  }

  /** For hot paths: counted in memory, flushed within a second (and on close). */
  addLater(userId: string, metric: Metric, n: number) {
    const k = `${userId}\n${metric}`;
    this.#pending.set(k, (this.#pending.get(k) ?? 0) + n);
    this.#timer ??= setInterval(() => void this.flush(), 1000);
  }

  async flush() {
    const batch = this.#pending;
    this.#pending = new Map();
    for (const [k, n] of batch) {
      const [userId, metric] = k.split("\n");
      await this.add(userId, metric as Metric, n).catch(() => {});
    }
  }

  async close() {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.flush();
  }

  async month(userId: string, period = periodOf(this.now())): Promise<Record<Metric, number>> {
    const rows = await this.db.selectFrom("usage_counters").select(["metric", "value"]).where("user_id", "=", userId).where("period", "=", period).execute();
    const out: Record<Metric, number> = { uploads: 0, transformations: 0, api_requests: 0, bandwidth_bytes: 0, views: 0 };
    for (const r of rows) out[r.metric as Metric] = Number(r.value);
    for (const [k, n] of this.#pending) {
      const [u, metric] = k.split("\n");
      if (u === userId) out[metric as Metric] += n;
    }
    return out;
  }

  async storage(userId: string): Promise<{ images: number; bytes: number }> {
    const now = this.now();
    const r = await this.db
      .selectFrom("images")
      .select((eb) => [eb.fn.countAll<number>().as("images"), eb.fn.coalesce(eb.fn.sum<number>("size"), eb.lit(0)).as("bytes")])
      .where("user_id", "=", userId)
      .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]))
      .executeTakeFirstOrThrow();
    return { images: Number(r.images), bytes: Number(r.bytes) };
  }
}

/** Named limit sets; `null` is unlimited. `free` and `pro` are img-src's published figures. */
export interface Plan {
  name: string;
  uploadsPerMonth: number | null;
  storageBytes: number | null;
  transformationsPerMonth: number | null;
  apiRequestsPerMonth: number | null;
  bandwidthPerMonth: number | null;
}

const GB = 1024 ** 3;
export const PLANS: Record<string, Plan> = {
  free: { name: "Free Plan", uploadsPerMonth: 100, storageBytes: 10 * GB, transformationsPerMonth: 1000, apiRequestsPerMonth: 1000, bandwidthPerMonth: null },
  pro: { name: "Pro Plan", uploadsPerMonth: null, storageBytes: 50 * GB, transformationsPerMonth: 10_000, apiRequestsPerMonth: 10_000, bandwidthPerMonth: null },
  unlimited: { name: "Unlimited", uploadsPerMonth: null, storageBytes: null, transformationsPerMonth: null, apiRequestsPerMonth: null, bandwidthPerMonth: null },
};

export const planOf = (name: string): Plan => PLANS[name] ?? PLANS.unlimited;
