import { Hono } from "hono";
import type { AppEnv } from "../env.ts";
import { rfc3339 } from "./shape.ts";

export const healthRoutes = new Hono<AppEnv>().get("/", (c) =>
  c.json({ status: "ok", timestamp: rfc3339(c.var.services.config.now()) }),
);
