import { Hono } from "hono";
import type { RouteEnv } from "../env.ts";
import { rfc3339 } from "./shape.ts";

/** The services these routes use. */
type Env = RouteEnv<"config">;

export const healthRoutes = new Hono<Env>().get("/", (c) =>
  c.json({ status: "ok", timestamp: rfc3339(c.var.services.config.now()) }),
);
