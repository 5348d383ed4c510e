import { createHmac } from "node:crypto";
import type { User } from "../../db/schema.ts";
import type { ImgwireAccess } from "../../domain/imgwire-access.ts";
import type { Services } from "../../services.ts";
import { baseUrl, type Ctx } from "./context.ts";

// Custom delivery domains: a request whose Host is a connected domain is served as that
// tenant's CDN. Lookups are remembered for a few seconds (a cache, not a source of truth:
// a change made here drops its entry at once; one made on another node shows within the TTL).

export const DOMAIN_CHECK_PATH = "/.well-known/imgd-domain-check";

export class DomainHosts {
  readonly #map = new Map<string, { user: User | null; connected: boolean; expires: number }>();
  constructor(private readonly access: ImgwireAccess, private readonly now: () => number, private readonly ttlMs = 5000) {}

  async lookup(host: string): Promise<{ user: User; connected: boolean } | null> {
    const hit = this.#map.get(host);
    if (hit && hit.expires > this.now()) return hit.user ? { user: hit.user, connected: hit.connected } : null;
    const found = await this.access.byHostname(host);
    if (this.#map.size > 10_000) this.#map.clear();
    this.#map.set(host, { user: found?.user ?? null, connected: found?.domain.status === "CONNECTED", expires: this.now() + this.ttlMs });
    return found ? { user: found.user, connected: found.domain.status === "CONNECTED" } : null;
  }

  forget(host: string) {
    this.#map.delete(host);
  }
}

/** What this imgd answers on the check path: derived from its secret, the same on every node sharing it. */
export const domainCheckToken = (secret: Uint8Array) => createHmac("sha256", secret).update("imgd-domain-check").digest("hex").slice(0, 32);

/**
 * Whether a request to the domain reaches this imgd: one GET of a fixed path, no redirects
 * followed, a short deadline; only a yes or no comes back to the caller.
 */
export async function checkDomain(c: Ctx, hostname: string): Promise<boolean> {
  const base = new URL(baseUrl(c));
  const url = `${base.protocol}//${hostname}${base.port ? `:${base.port}` : ""}${c.var.services.config.basePath}${DOMAIN_CHECK_PATH}`;
  try {
    const res = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(3000) });
    return res.status === 200 && (await res.text()).trim() === domainCheckToken(c.var.services.secret);
  } catch {
    return false;
  }
}

/**
 * Before routing: the check path answers on any host; on a connected domain's host every
 * GET is that tenant's CDN. Returns the rewritten request, a response, or null (not ours).
 */
export async function routeCustomDomain(services: Services, req: Request): Promise<Request | Response | null> {
  const url = new URL(req.url);
  const path = url.pathname;
  if (path === DOMAIN_CHECK_PATH) return new Response(domainCheckToken(services.secret), { headers: { "content-type": "text/plain" } });
  const host = (req.headers.get("host") ?? url.host).toLowerCase().replace(/:\d+$/, "");
  if (!host || /^[\d.]+$/.test(host) || host.startsWith("[")) return null;
  if (services.config.publicUrl && new URL(services.config.publicUrl).hostname === host) return null;
  const found = await services.imgwire.hosts.lookup(host);
  if (!found?.connected) return null;
  if (req.method !== "GET" && req.method !== "HEAD") return new Response(JSON.stringify({ detail: "Method not allowed" }), { status: 405, headers: { "content-type": "application/json" } });
  url.pathname = `${services.config.imgwireMount}/cdn/${encodeURIComponent(found.user.username)}${path}`;
  return new Request(url, req);
}

