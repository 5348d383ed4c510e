import type { Kysely } from "kysely";
import type { Db } from "../../db/connection.ts";
import type { Database } from "../../db/schema.ts";

/**
 * What is counted per tenant. The first five are monthly plan figures; `requests` (deliveries
 * and views), cache hits and misses and `storage_added` feed the time series.
 */
export type Metric =
  | "uploads"
  | "transformations"
  | "api_requests"
  | "bandwidth_bytes"
  | "views"
  | "requests"
  | "cache_hits"
  | "cache_misses"
  | "storage_added";

export const METRICS: readonly Metric[] = [
  "uploads",
  "transformations",
  "api_requests",
  "bandwidth_bytes",
  "views",
  "requests",
  "cache_hits",
  "cache_misses",
  "storage_added",
];

const HOUR = 3_600_000;
export const hourOf = (ms: number) => ms - (ms % HOUR);

/** A connection or an open transaction: counting inside a transaction commits or rolls back with it. */
type Conn = Kysely<Database>;

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
  #pending = new Map<string, Partial<Record<Metric, number>>>();
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  /** Counts `n` (may be negative: a refund) in the month's and the hour's rows. */
  async add(userId: string, metric: Metric, n = 1, db: Conn = this.db) {
    if (n === 0) return;
    const now = this.now();
    await db
      .insertInto("usage_counters")
      .values({ user_id: userId, period: periodOf(now), metric, value: n })
      .onConflict((oc) =>
        oc
          .columns(["user_id", "period", "metric"])
          .doUpdateSet((eb) => ({ value: eb("usage_counters.value", "+", n) })),
      )
      .execute();
    await this.#addHourly(db, userId, metric, n, now);
  }

  /**
   * Counts `n` only if the month's total stays within `limit` (null: no limit); false when it
   * would not. One conditional upsert, so concurrent callers (processes and nodes included)
   * can never pass the limit together.
   */
  async consume(userId: string, metric: Metric, n: number, limit: number | null, db: Conn = this.db): Promise<boolean> {
    if (limit === null) {
      await this.add(userId, metric, n, db);
      return true;
    }
    if (n > limit) return false;
    const now = this.now();
    const r = await db
      .insertInto("usage_counters")
      .values({ user_id: userId, period: periodOf(now), metric, value: n })
      .onConflict((oc) =>
        oc
          .columns(["user_id", "period", "metric"])
          .doUpdateSet((eb) => ({ value: eb("usage_counters.value", "+", n) }))
          .where("usage_counters.value", "<=", limit - n),
      )
      .executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0n) === 0) return false;
    await this.#addHourly(db, userId, metric, n, now);
    return true;
  }

  async #addHourly(db: Conn, userId: string, metric: Metric, n: number, now: number) {
    await db
      .insertInto("usage_hourly")
      .values({ user_id: userId, hour: hourOf(now), metric, value: n })
      .onConflict((oc) =>
        oc.columns(["user_id", "hour", "metric"]).doUpdateSet((eb) => ({ value: eb("usage_hourly.value", "+", n) })),
      )
      .execute();
  }

  /** Hourly rows of a tenant in [from, to), every metric. */
  async hourly(userId: string, from: number, to: number): Promise<{ hour: number; metric: Metric; value: number }[]> {
    await this.flush();
    const rows = await this.db
      .selectFrom("usage_hourly")
      .select(["hour", "metric", "value"])
      .where("user_id", "=", userId)
      .where("hour", ">=", hourOf(from))
      .where("hour", "<", to)
      .execute();
    return rows.map((r) => ({ hour: Number(r.hour), metric: r.metric as Metric, value: Number(r.value) }));
  }

  /** Bytes added to a tenant's storage at or after `from` (for storage over time). */
  async storageAddedSince(userId: string, from: number): Promise<number> {
    const r = await this.db
      .selectFrom("usage_hourly")
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>("value"), eb.lit(0)).as("bytes"))
      .where("user_id", "=", userId)
      .where("metric", "=", "storage_added")
      .where("hour", ">=", from)
      .executeTakeFirstOrThrow();
    return Number(r.bytes);
  }

  /** For hot paths: counted in memory, flushed within a second (and on close). */
  addLater(userId: string, metric: Metric, n: number) {
    let m = this.#pending.get(userId);
    if (!m) this.#pending.set(userId, (m = {}));
    m[metric] = (m[metric] ?? 0) + n;
    this.#timer ??= setInterval(() => void this.flush(), 1000);
  }

  /** One delivered image: its bytes, one request, and whether the cache had it. */
  countDelivery(userId: string, bytes: number, cache: "hit" | "miss" | "original") {
    this.addLater(userId, "bandwidth_bytes", bytes);
    this.addLater(userId, "requests", 1);
    if (cache !== "original") this.addLater(userId, cache === "hit" ? "cache_hits" : "cache_misses", 1);
  }

  async flush() {
    const batch = this.#pending;
    this.#pending = new Map();
    for (const [userId, m] of batch) {
      for (const [metric, n] of Object.entries(m)) await this.add(userId, metric as Metric, n).catch(() => {});
    }
  }

  async close() {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.flush();
  }

  async month(userId: string, period = periodOf(this.now())): Promise<Record<Metric, number>> {
    const rows = await this.db
      .selectFrom("usage_counters")
      .select(["metric", "value"])
      .where("user_id", "=", userId)
      .where("period", "=", period)
      .execute();
    const out = Object.fromEntries(METRICS.map((m) => [m, 0])) as Record<Metric, number>;
    for (const r of rows) if (r.metric in out) out[r.metric as Metric] = Number(r.value);
    for (const [metric, n] of Object.entries(this.#pending.get(userId) ?? {})) out[metric as Metric] += n;
    return out;
  }

  async storage(userId: string, db: Conn = this.db): Promise<{ images: number; bytes: number }> {
    const now = this.now();
    const r = await db
      .selectFrom("images")
      .select((eb) => [
        eb.fn.countAll<number>().as("images"),
        eb.fn.coalesce(eb.fn.sum<number>("size"), eb.lit(0)).as("bytes"),
      ])
      .where("user_id", "=", userId)
      .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]))
      .executeTakeFirstOrThrow();
    return { images: Number(r.images), bytes: Number(r.bytes) };
  }
}
