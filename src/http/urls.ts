import type { Context } from "hono";
import type { AppEnv } from "./env.ts";

/**
 * The base of absolute URLs in responses: the configured public URL (which includes any path
 * prefix), else the request's own origin and the base path imgd is mounted under.
 */
export function baseUrl(c: Context<AppEnv>): string {
  const { publicUrl, basePath } = c.var.services.config;
  return publicUrl ?? new URL(c.req.url).origin + basePath;
}
