import { Hono } from "hono";
import { AppError } from "../../domain/errors.ts";
import type { Services } from "../../services.ts";
import { requireKey } from "../auth.ts";
import type { AppEnv } from "../env.ts";

/** The exposition, as every listener serves it. */
export async function metricsResponse(services: Services): Promise<Response> {
  return new Response(await services.telemetry.text(), { headers: { "Content-Type": services.telemetry.contentType, "Cache-Control": "no-store" } });
}

/** `GET /metrics` on the main port: the admin's key only (it shows every tenant's traffic). */
export const prometheusRoutes = new Hono<AppEnv>().get("/", requireKey("read"), async (c) => {
  if (c.var.principal.user.role !== "admin") throw new AppError("FORBIDDEN", "Only admin keys may read /metrics");
  return metricsResponse(c.var.services);
});
