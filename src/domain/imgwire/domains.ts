import type { ImgwireDomain, User } from "../../db/schema.ts";
import type { Db } from "../../db/connection.ts";
import { AppError, invalid, notFound } from "../errors.ts";
import { newId } from "../ids.ts";
import type { Users } from "../accounts/users.ts";
import type { Fetcher } from "../fetcher/fetcher.ts";
import { canonicalHost } from "../site/hosts.ts";
import type { Tokens } from "../tokens/tokens.ts";

/** An environment's custom delivery domain (one at most), and its connection state. */
export class CustomDomains {
  constructor(
    private readonly d: {
      db: Db;
      users: Users;
      /** Why a name may not be claimed (one imgd answers as itself…), or null. */
      refusal: (host: string) => string | null;
      now: () => number;
    },
  ) {}

  domain(userId: string): Promise<ImgwireDomain | undefined> {
    return this.d.db.selectFrom("imgwire_domains").selectAll().where("user_id", "=", userId).executeTakeFirst();
  }

  async setDomain(userId: string, hostname: string): Promise<ImgwireDomain> {
    const now = this.d.now();
    const host = normalizeHostname(hostname);
    const refused = this.d.refusal(host);
    if (refused) throw invalid("hostname", `${refused}`);
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
      .where("hostname", "=", canonicalHost(hostname))
      .executeTakeFirst();
    const user = domain && (await this.d.users.byId(domain.user_id));
    return domain && user ? { domain, user } : undefined;
  }
}

export const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function normalizeHostname(raw: string): string {
  const h = raw.trim().toLowerCase().replace(/\.+$/, "");
  if (!HOSTNAME.test(h)) throw invalid("hostname", "is not a valid host name");
  return h;
}

// How a tenant proves a domain is its own: a token that names the tenant and the domain (an
// HMAC of both under imgd's secret, so it verifies for that pair only), published either as a
// DNS TXT record at _imgd-challenge.<host> or as the body of http://<host>/.well-known/imgd-challenge
// (served by the tenant's own server, before the name points at imgd). imgd itself never
// answers that path, on any host, so pointing a name at imgd proves nothing about who owns it.

export const CHALLENGE_LABEL = "_imgd-challenge";
export const CHALLENGE_PATH = "/.well-known/imgd-challenge";

export class DomainProof {
  constructor(
    private readonly d: {
      tokens: Tokens;
      /** The SSRF-safe fetcher: the HTTP token is read through it, never with plain fetch(). */
      fetcher: Fetcher;
      refusal: (host: string) => string | null;
      resolveTxt: (name: string) => Promise<string[][]>;
      timeoutMs: number;
    },
  ) {}

  /** What the tenant publishes for this host. */
  token(environmentId: string, host: string): string {
    return `imgd-verify=${environmentId}:${this.d.tokens.sign("domain-claim", [environmentId, canonicalHost(host)])}`;
  }

  /** Whether the host publishes this tenant's token, by DNS TXT or over HTTP. Only yes or no comes back. */
  async proved(environmentId: string, host: string): Promise<boolean> {
    const name = canonicalHost(host);
    if (this.d.refusal(name)) return false;
    const want = this.token(environmentId, name);
    // A name the operator pinned (IMGD_RESOLVE) is not asked of DNS at all.
    if (!this.d.fetcher.isPinned(name)) {
      const records = await withDeadline(this.d.resolveTxt(`${CHALLENGE_LABEL}.${name}`), this.d.timeoutMs).catch(
        () => [] as string[][],
      );
      if (records.some((chunks) => chunks.join("").trim() === want)) return true;
    }
    try {
      const body = new TextDecoder().decode(await this.d.fetcher.read(`http://${name}${CHALLENGE_PATH}`, 4096));
      return body.split(/\r?\n/).some((line) => line.trim() === want);
    } catch {
      return false;
    }
  }
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("deadline")), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
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

  async lookup(raw: string): Promise<{ user: User; connected: boolean } | null> {
    const host = canonicalHost(raw);
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
    this.#map.delete(canonicalHost(host));
  }
}
