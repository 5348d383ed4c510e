import type { Context } from "hono";
import type { RouteEnv } from "./env.ts";

/**
 * The base of absolute URLs in responses: the configured public URL (which includes any path
 * prefix), else the request's own origin and the base path imgd is mounted under.
 */
export function baseUrl<E extends RouteEnv<"config">>(c: Context<E>): string {
  const { publicUrl, basePath } = c.var.services.config;
  return publicUrl ?? new URL(c.req.url).origin + basePath;
}
