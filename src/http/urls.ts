import type { Context } from "hono";
import type { RouteEnv } from "./env.ts";

/**
 * The base of absolute URLs in responses: the configured public URL (which includes any path
 * prefix), else the request's own origin if its Host is a name imgd answers as (see
 * OwnHosts.base: an arbitrary Host never reaches a page a cache may keep), and the base path.
 */
export function baseUrl<E extends RouteEnv<"ownHosts">>(c: Context<E>): string {
  return c.var.services.ownHosts.base(c.req.url);
}
