import type { ImgwireDomain } from "../../db/imgwire-schema.ts";
import type { Db } from "../../db/connection.ts";
import type { User } from "../../db/schema.ts";
import { AppError, notFound } from "../errors.ts";
import { newId } from "../ids.ts";
import type { Users } from "../accounts/users.ts";

/** An environment's custom delivery domain (one at most), and its connection state. */
export class CustomDomains {
  constructor(private readonly d: { db: Db; users: Users; now: () => number }) {}

  domain(userId: string): Promise<ImgwireDomain | undefined> {
    return this.d.db.selectFrom("imgwire_domains").selectAll().where("user_id", "=", userId).executeTakeFirst();
  }

  async setDomain(userId: string, hostname: string): Promise<ImgwireDomain> {
    const now = this.d.now();
    const host = normalizeHostname(hostname);
    const taken = await this.d.db
      .selectFrom("imgwire_domains")
      .select("user_id")
      .where("hostname", "=", host)
      .executeTakeFirst();
    if (taken && taken.user_id !== userId)
      throw new AppError("CONFLICT", `${host} is the custom domain of another environment`);
    await this.d.db.deleteFrom("imgwire_domains").where("user_id", "=", userId).execute();
    await this.d.db
      .insertInto("imgwire_domains")
      .values({
        id: newId(now),
        user_id: userId,
        hostname: host,
        status: "PENDING",
        last_verified_at: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    return (await this.domain(userId))!;
  }

  async deleteDomain(userId: string) {
    const r = await this.d.db.deleteFrom("imgwire_domains").where("user_id", "=", userId).executeTakeFirst();
    if (r.numDeletedRows === 0n) throw notFound("Custom domain");
  }

  async markDomain(userId: string, connected: boolean): Promise<ImgwireDomain> {
    const now = this.d.now();
    await this.d.db
      .updateTable("imgwire_domains")
      .set({ status: connected ? "CONNECTED" : "FAILED", last_verified_at: now, updated_at: now })
      .where("user_id", "=", userId)
      .execute();
    return (await this.domain(userId))!;
  }

  /** The tenant a connected domain serves. */
  async byHostname(hostname: string): Promise<{ domain: ImgwireDomain; user: User } | undefined> {
    const domain = await this.d.db
      .selectFrom("imgwire_domains")
      .selectAll()
      .where("hostname", "=", hostname.toLowerCase())
      .executeTakeFirst();
    const user = domain && (await this.d.users.byId(domain.user_id));
    return domain && user ? { domain, user } : undefined;
  }
}

export const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function normalizeHostname(raw: string): string {
  const h = raw.trim().toLowerCase().replace(/\.$/, "");
  if (!HOSTNAME.test(h))
    throw new AppError("VALIDATION_ERROR", "hostname: is not a valid host name", { field: "hostname" });
  return h;
}

// Custom delivery domains: a request whose Host is a connected domain is served as that
// tenant's CDN. Lookups are remembered for a few seconds (a cache, not a source of truth:
// a change made here drops its entry at once; one made on another node shows within the TTL).

export class DomainHosts {
  readonly #map = new Map<string, { user: User | null; connected: boolean; expires: number }>();
  constructor(
    private readonly domains: CustomDomains,
    private readonly now: () => number,
    private readonly ttlMs = 5000,
  ) {}

  async lookup(host: string): Promise<{ user: User; connected: boolean } | null> {
    const hit = this.#map.get(host);
    if (hit && hit.expires > this.now()) return hit.user ? { user: hit.user, connected: hit.connected } : null;
    const found = await this.domains.byHostname(host);
    if (this.#map.size > 10_000) this.#map.clear();
    this.#map.set(host, {
      user: found?.user ?? null,
      connected: found?.domain.status === "CONNECTED",
      expires: this.now() + this.ttlMs,
    });
    return found ? { user: found.user, connected: found.domain.status === "CONNECTED" } : null;
  }

  forget(host: string) {
    this.#map.delete(host);
  }
}
