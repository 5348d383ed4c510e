import { Hono } from "hono";
import type { RouteEnv } from "../env.ts";
import { rfc3339 } from "./shape.ts";

/** The services these routes use. */
type Env = RouteEnv<"config" | "health">;

/** Liveness: the process answers, and says what it runs on. */
export const healthRoutes = new Hono<Env>().get("/", (c) =>
  c.json({
    status: "ok",
    timestamp: rfc3339(c.var.services.config.now()),
    ...c.var.services.health.kinds(),
  }),
);

/**
 * Readiness, for a load balancer: 503 while the database or the storage does not answer, so
 * traffic goes to the nodes that can serve it.
 */
export const readyRoutes = new Hono<Env>().get("/", async (c) => {
  const r = await c.var.services.health.check();
  c.header("cache-control", "no-store");
  return c.json(
    {
      status: r.ready ? "ready" : "unavailable",
      timestamp: rfc3339(c.var.services.config.now()),
      database: r.database,
      storage: r.storage,
    },
    r.ready ? 200 : 503,
  );
});
