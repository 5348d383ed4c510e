import { AppError } from "../errors.ts";
import { hourOf, type Metric, type Usage } from "./usage.ts";

// A tenant's usage over time, in the shapes of Imgwire's metrics API (MetricsDatasetsSchema
// and MetricsStatsSchema), built from the hourly counters. Every dialect that shows metrics
// (native /api/v1/metrics, Imgwire's mount) calls these and only renames nothing.

export const INTERVALS = ["HOURLY", "DAILY", "WEEKLY", "MONTHLY"] as const;
export type Interval = (typeof INTERVALS)[number];

export interface MetricsQuery {
  interval: Interval;
  /** IANA time zone the buckets follow (days, weeks from Monday, months). */
  tz: string;
  /** ms; defaults: the last 24 hours, 30 days, 12 weeks or 12 months. */
  start?: number;
  end?: number;
}

export interface MetricsDatasets {
  uploads: { timestamp: string; uploads: number }[];
  transformations: { timestamp: string; transformations: number }[];
  requests: { timestamp: string; requests: number }[];
  transfer_bytes: { timestamp: string; transfer_bytes: number }[];
  cache_hit_ratio: { label: string; value: number }[];
  storage_bytes: { timestamp: string; storage_bytes_current: number; storage_bytes_added: number }[];
}

export interface StatValue {
  value: number;
  prev: number;
  pct_change: number | null;
}

export type MetricsStats = Record<
  "uploads" | "transformations" | "requests" | "transfer_bytes" | "cache_hit_ratio" | "storage_bytes",
  StatValue
>;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MAX_HOURS = 2 * 366 * 24;
const DEFAULT_SPAN: Record<Interval, number> = {
  HOURLY: DAY,
  DAILY: 30 * DAY,
  WEEKLY: 12 * 7 * DAY,
  MONTHLY: 365 * DAY,
};

/** Whether a time zone name is known to this runtime. */
export function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Names the bucket an instant falls in, in the query's time zone. */
function bucketer(interval: Interval, tz: string): (ms: number) => string {
  if (interval === "HOURLY") return (ms) => String(hourOf(ms));
  const f = new Intl.DateTimeFormat("en-US", {
    timeZone: tz,
    year: "numeric",
    month: "numeric",
    day: "numeric",
    weekday: "short",
  });
  const WEEKDAY: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };
  return (ms) => {
    const p = Object.fromEntries(f.formatToParts(ms).map((x) => [x.type, x.value]));
    const y = Number(p.year);
    const m = Number(p.month);
    const d = Number(p.day);
    if (interval === "MONTHLY") return `${y}-${m}`;
    if (interval === "DAILY") return `${y}-${m}-${d}`;
    return new Date(Date.UTC(y, m - 1, d - WEEKDAY[p.weekday])).toISOString().slice(0, 10);
  };
}

interface Range {
  start: number;
  end: number;
}

function rangeOf(q: MetricsQuery, now: number): Range {
  const end = q.end ?? now;
  const start = q.start ?? end - DEFAULT_SPAN[q.interval];
  if (!(start < end))
    throw new AppError("VALIDATION_ERROR", "date_start must be before date_end", { field: "date_start" });
  if ((end - start) / HOUR > MAX_HOURS)
    throw new AppError("VALIDATION_ERROR", "The range may span at most two years", { field: "date_start" });
  return { start, end };
}

const SERIES: Metric[] = [
  "uploads",
  "transformations",
  "requests",
  "bandwidth_bytes",
  "cache_hits",
  "cache_misses",
  "storage_added",
];

export class Metrics {
  constructor(
    private readonly usage: Usage,
    private readonly now: () => number,
  ) {}

  async datasets(userId: string, q: MetricsQuery): Promise<MetricsDatasets> {
    const { start, end } = rangeOf(q, this.now());
    const bucketOf = bucketer(q.interval, q.tz);
    // Every hour of the range gets a bucket, so charts have no gaps where nothing happened.
    const buckets = new Map<string, { at: number; sums: Record<string, number> }>();
    for (let h = hourOf(start); h < end; h += HOUR) {
      const k = bucketOf(h);
      if (!buckets.has(k)) buckets.set(k, { at: Math.max(h, start), sums: {} });
    }
    const rows = await this.usage.hourly(userId, start, end);
    let hits = 0;
    let misses = 0;
    for (const r of rows) {
      if (!SERIES.includes(r.metric)) continue;
      const b = buckets.get(bucketOf(r.hour));
      if (b) b.sums[r.metric] = (b.sums[r.metric] ?? 0) + r.value;
      if (r.metric === "cache_hits") hits += r.value;
      if (r.metric === "cache_misses") misses += r.value;
    }
    const list = [...buckets.values()].sort((a, b) => a.at - b.at);
    // Storage at each bucket's end: today's total less what was added after that end.
    const current = (await this.usage.storage(userId)).bytes;
    const addedAfterEnd = await this.usage.storageAddedSince(userId, end);
    let running = current - addedAfterEnd;
    const storage = new Array(list.length);
    for (let i = list.length - 1; i >= 0; i--) {
      storage[i] = {
        timestamp: iso(list[i].at),
        storage_bytes_current: Math.max(0, running),
        storage_bytes_added: list[i].sums.storage_added ?? 0,
      };
      running -= list[i].sums.storage_added ?? 0;
    }
    const n = (b: (typeof list)[number], m: Metric) => b.sums[m] ?? 0;
    return {
      uploads: list.map((b) => ({ timestamp: iso(b.at), uploads: n(b, "uploads") })),
      transformations: list.map((b) => ({ timestamp: iso(b.at), transformations: n(b, "transformations") })),
      requests: list.map((b) => ({ timestamp: iso(b.at), requests: n(b, "requests") })),
      transfer_bytes: list.map((b) => ({ timestamp: iso(b.at), transfer_bytes: n(b, "bandwidth_bytes") })),
      cache_hit_ratio: [
        { label: "hit", value: hits },
        { label: "miss", value: misses },
      ],
      storage_bytes: storage,
    };
  }

  /** Totals of the range against the range of the same length just before it. */
  async stats(userId: string, q: MetricsQuery): Promise<MetricsStats> {
    const { start, end } = rangeOf(q, this.now());
    const prevStart = start - (end - start);
    const rows = await this.usage.hourly(userId, prevStart, end);
    const cur: Record<string, number> = {};
    const prev: Record<string, number> = {};
    for (const r of rows) {
      const into = r.hour >= hourOf(start) ? cur : prev;
      into[r.metric] = (into[r.metric] ?? 0) + r.value;
    }
    const current = (await this.usage.storage(userId)).bytes;
    const storageAt = async (t: number) =>
      Math.max(0, current - (await this.usage.storageAddedSince(userId, hourOf(t) + (t % HOUR === 0 ? 0 : HOUR))));
    const ratio = (s: Record<string, number>) => {
      const all = (s.cache_hits ?? 0) + (s.cache_misses ?? 0);
      return all === 0 ? 0 : Math.round(((s.cache_hits ?? 0) / all) * 10_000) / 100;
    };
    const stat = (value: number, before: number): StatValue => ({
      value,
      prev: before,
      pct_change: before === 0 ? null : Math.round(((value - before) / before) * 10_000) / 100,
    });
    const sum = (m: Metric) => stat(cur[m] ?? 0, prev[m] ?? 0);
    return {
      uploads: sum("uploads"),
      transformations: sum("transformations"),
      requests: sum("requests"),
      transfer_bytes: sum("bandwidth_bytes"),
      cache_hit_ratio: stat(ratio(cur), ratio(prev)),
      storage_bytes: stat(await storageAt(end), await storageAt(start)),
    };
  }
}

const iso = (ms: number) => new Date(ms).toISOString();
