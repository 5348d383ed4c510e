import type { Context } from "hono";
import { inCidr, parseAddress, unmapped } from "../domain/fetcher/addresses.ts";
import type { RouteEnv } from "./env.ts";

/**
 * The client's address: the socket's, unless the socket is a proxy named in IMGD_TRUST_PROXY;
 * then X-Forwarded-For is walked from the right (the part our proxies wrote) to the first
 * address that is not one of them. A client cannot forge its way past a proxy we trust.
 */
export function clientIp<E extends RouteEnv<"trustedProxies">>(c: Context<E>): string {
  const trusted = (c as unknown as Context<RouteEnv<"trustedProxies">>).var.services.trustedProxies;
  let addr = unmapped(c.env?.remoteAddress ?? "");
  if (trusted.length === 0) return addr;
  const isTrusted = (a: string) => {
    const p = parseAddress(a);
    return !!p && trusted.some((t) => inCidr(p, t));
  };
  const hops = (c.req.header("x-forwarded-for") ?? "")
    .split(",")
    .map((h) => unmapped(h.trim()))
    .filter(Boolean);
  while (isTrusted(addr) && hops.length) {
    const next = hops.pop()!;
    if (!parseAddress(next)) break;
    addr = next;
  }
  return addr;
}
