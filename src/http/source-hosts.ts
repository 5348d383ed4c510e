import type { Context } from "hono";
import type { SourceHosts } from "../domain/delivery/source.ts";
import { canonicalHost } from "../domain/site/hosts.ts";
import type { RouteEnv } from "./env.ts";

// What a shape's source is read against (domain/delivery/source.ts): the names imgd answers as
// itself, and the host this request came on.

export type SourceServices = "config" | "ownHosts";

export function sourceHostsOf<E extends RouteEnv<SourceServices>>(c: Context<E>): SourceHosts {
  const { config, ownHosts } = c.var.services;
  const requestHost = c.req.header("host") ?? new URL(c.req.url).host;
  return {
    publicHost: config.publicUrl ? canonicalHost(new URL(config.publicUrl).host) : undefined,
    cdnHost: config.cdnHost ? canonicalHost(config.cdnHost) : undefined,
    basePath: config.basePath,
    requestHost: requestHost || undefined,
    isOwn: (h) => ownHosts.isOwn(h),
  };
}
