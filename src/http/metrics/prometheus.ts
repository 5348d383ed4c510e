import { Hono } from "hono";
import { AppError } from "../../domain/errors.ts";
import type { Telemetry } from "../../observability/telemetry.ts";
import { requireKey } from "../auth.ts";
import type { RouteEnv } from "../env.ts";

/** The services these routes use. */
type Env = RouteEnv<"auth" | "telemetry">;

/** The exposition, as every listener serves it. */
export async function metricsResponse(telemetry: Telemetry): Promise<Response> {
  return new Response(await telemetry.text(), {
    headers: { "Content-Type": telemetry.contentType, "Cache-Control": "no-store" },
  });
}

/** `GET /metrics` on the main port: the admin's key only (it shows every tenant's traffic). */
export const prometheusRoutes = new Hono<Env>().get("/", requireKey("read"), async (c) => {
  if (c.var.principal.user.role !== "admin") throw new AppError("FORBIDDEN", "Only admin keys may read /metrics");
  return metricsResponse(c.var.services.telemetry);
});
