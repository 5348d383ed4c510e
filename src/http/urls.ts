import type { Context } from "hono";
import type { AppEnv } from "./env.ts";

/** The base of absolute URLs in responses: the configured public URL, else the request's own origin. */
export function baseUrl(c: Context<AppEnv>): string {
  return c.var.services.config.publicUrl ?? new URL(c.req.url).origin;
}
