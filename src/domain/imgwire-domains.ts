import type { User } from "../db/schema.ts";
import type { ImgwireAccess } from "./imgwire-access.ts";

// Custom delivery domains: a request whose Host is a connected domain is served as that
// tenant's CDN. Lookups are remembered for a few seconds (a cache, not a source of truth:
// a change made here drops its entry at once; one made on another node shows within the TTL).

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

