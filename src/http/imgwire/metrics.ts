import { Hono } from "hono";
import type { MetricsQuery } from "../../domain/metrics.ts";
import { MetricsQuerySchema } from "../native/metrics.ts";
import { type ImgwireEnv, parseIn } from "./context.ts";

/** The services these routes use. */
type Env = ImgwireEnv<"metrics">;

// Imgwire's metrics routes over the one metrics service (src/domain/metrics.ts, issue #7): the
// shapes are Imgwire's already; only the environment and the error dialect are ours.

function query(raw: Record<string, string>): MetricsQuery {
  const q = parseIn(MetricsQuerySchema, raw, "query");
  return { interval: q.interval, tz: q.tz, start: q.date_start, end: q.date_end };
}

export const metricsRoutes = new Hono<Env>()
  .get("/datasets", async (c) => c.json(await c.var.services.metrics.datasets(c.var.env.id, query(c.req.query()))))
  .get("/stats", async (c) => c.json(await c.var.services.metrics.stats(c.var.env.id, query(c.req.query()))));
