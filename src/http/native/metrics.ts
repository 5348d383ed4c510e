import { Hono } from "hono";
import * as v from "valibot";
import { INTERVALS, type MetricsQuery, validTimeZone } from "../../domain/metering/metrics.ts";
import type { RouteEnv } from "../env.ts";
import { parse } from "../validate.ts";

/** The services these routes use. */
type Env = RouteEnv<"metrics">;

// GET /api/v1/metrics/datasets and /stats: the tenant's time series, in Imgwire's shapes and
// with Imgwire's query parameters (interval, tz, date_start, date_end).

const dateTime = v.pipe(
  v.string(),
  v.check(
    (s) =>
      /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s) &&
      !Number.isNaN(Date.parse(s)),
    "must be an ISO 8601 date-time",
  ),
  v.transform((s) => Date.parse(/[T ]/.test(s) && !/(Z|[+-]\d{2}:?\d{2})$/.test(s) ? `${s}Z` : s)),
);

export const MetricsQuerySchema = v.object({
  interval: v.optional(v.picklist(INTERVALS, `must be one of ${INTERVALS.join(", ")}`), "HOURLY"),
  tz: v.optional(
    v.pipe(v.string(), v.check(validTimeZone, "must be an IANA time zone, e.g. UTC or Europe/Berlin")),
    "UTC",
  ),
  date_start: v.optional(dateTime),
  date_end: v.optional(dateTime),
});

export function metricsQuery(raw: Record<string, string>): MetricsQuery {
  const q = parse(MetricsQuerySchema, raw, "query");
  return { interval: q.interval, tz: q.tz, start: q.date_start, end: q.date_end };
}

export const metricsRoutes = new Hono<Env>()
  .get("/datasets", async (c) =>
    c.json(await c.var.services.metrics.datasets(c.var.principal.user.id, metricsQuery(c.req.query()))),
  )
  .get("/stats", async (c) =>
    c.json(await c.var.services.metrics.stats(c.var.principal.user.id, metricsQuery(c.req.query()))),
  );
