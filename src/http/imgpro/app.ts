import { Hono } from "hono";
import { AppError } from "../../domain/errors.ts";
import type { AppEnv, AppServices } from "../env.ts";
import { settleBody, toAppError } from "../errors.ts";
import { accountRoutes } from "./account.ts";
import { imgproErrorResponse } from "./errors.ts";
import { ingestRoutes } from "./ingest.ts";
import { mediaRoutes } from "./media.ts";

/**
 * The img.pro dialect, mounted at /v1. It has its own error handler: Hono wraps a sub-app's
 * routes with the sub-app's onError, so errors here are answered in img.pro's words while the
 * rest of imgd keeps the native envelope.
 */
export function imgproApp(services: Pick<AppServices, "metering" | "log">) {
  const app = new Hono<AppEnv>();
  // Quota headers on every authenticated answer, errors included.
  app.use(async (c, next) => {
    await next();
    const principal = c.get("principal");
    if (!principal) return;
    const s = await services.metering.status(principal.user).catch(() => null);
    if (!s) return;
    const h = c.res.headers;
    const set = (name: string, v: number | null) => h.set(name, v === null ? "unlimited" : String(v));
    const left = (limit: number | null, used: number) => (limit === null ? null : Math.max(0, limit - used));
    set("X-Monthly-Uploads-Used", s.uploadsUsed);
    set("X-Monthly-Uploads-Limit", s.limits.uploadsPerMonth);
    set("X-Monthly-Uploads-Remaining", left(s.limits.uploadsPerMonth, s.uploadsUsed));
    set("X-Storage-Used", s.storageUsed);
    set("X-Storage-Limit", s.limits.storageBytes);
    set("X-Storage-Remaining", left(s.limits.storageBytes, s.storageUsed));
  });
  app.route("/", ingestRoutes);
  app.route("/", accountRoutes);
  app.route("/media", mediaRoutes);
  // A sub-app's notFound is not consulted once mounted: a catch-all keeps 404s in this dialect.
  app.all("*", (c) => {
    throw new AppError("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}`);
  });
  app.onError(async (err, c) => {
    const e = toAppError(err, services.log);
    await settleBody(c);
    return imgproErrorResponse(c, e);
  });
  return app;
}
