import { createHash, getRandomValues, timingSafeEqual } from "node:crypto";
import type { Db } from "../../db/connection.ts";
import type { ApiKey, Session, User } from "../../db/schema.ts";
import type { Cidr } from "../fetcher/addresses.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import type { Principal, Scope } from "./keys.ts";

// Browser sessions of the dashboard, kept in the database (every node sees them, a restart
// keeps them, and a user can list and end them). The cookie carries a random secret; the
// database keeps only its SHA-256. A session is the same principal an API key is, so the
// dashboard uses the public API and nothing else.

const DAY = 86_400_000;
/** A session nobody used for this long is over. */
export const SESSION_IDLE_MS = 30 * DAY;
/** last_seen_at is written at most this often, not on every request. */
const TOUCH_MS = 60_000;
export const SETUP_LINK_TTL_MS = DAY;

const token = () => Buffer.from(getRandomValues(new Uint8Array(32))).toString("base64url");
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The API-key shape of a session, so metering, rate limits and routes that read
 * `principal.key` treat it like a server key of the same user (its own rate window).
 */
function sessionKey(s: Session, keyExpiresAt: number | null): ApiKey {
  return {
    id: `session:${s.id}`,
    user_id: s.user_id,
    name: "dashboard session",
    kind: "server",
    key_prefix: "session",
    key_hash: "",
    last4: "",
    scopes: s.scopes,
    options: null,
    created_at: s.created_at,
    // What bounds the keys this session makes: a password session is the account's owner (no
    // limit); a session opened with a key is that key, and ends with it.
    expires_at: keyExpiresAt,
    last_used_at: s.last_seen_at,
    total_requests: 0,
  };
}

/** What decides which origins are this server's (for the cookie's checks): its public URL, its
 * path prefix and the proxies it trusts. */
export interface Site {
  publicUrl: string | undefined;
  trustedProxies: Cidr[];
  basePath: string;
}

export interface SessionPrincipal extends Principal {
  session: Session;
}

export class Sessions {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  async create(
    userId: string,
    input: {
      method: "password" | "key" | "setup" | "signup";
      scopes?: Scope[];
      /** The key a session opened with a key was opened with: the session ends with it. */
      keyId?: string | null;
      userAgent?: string | null;
      ip?: string | null;
    },
  ) {
    const now = this.now();
    const secret = token();
    const row = {
      id: newId(now),
      user_id: userId,
      token_hash: sha256(secret),
      csrf_token: token(),
      method: input.method,
      scopes: (input.scopes?.length ? [...input.scopes].sort() : ["read", "write"]).join(","),
      user_agent: input.userAgent?.slice(0, 300) ?? null,
      ip: input.ip || null,
      created_at: now,
      last_seen_at: now,
      expires_at: now + SESSION_IDLE_MS,
      key_id: input.keyId ?? null,
    };
    await this.db.insertInto("sessions").values(row).execute();
    return { session: row as Session, secret };
  }

  /** The session a cookie's secret opens, kept alive by this use; null when over or unknown. */
  async resolve(secret: string): Promise<SessionPrincipal | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(secret)) return null;
    const now = this.now();
    const s = await this.db
      .selectFrom("sessions")
      .selectAll()
      .where("token_hash", "=", sha256(secret))
      .executeTakeFirst();
    if (!s) return null;
    if (s.expires_at <= now) {
      await this.db.deleteFrom("sessions").where("id", "=", s.id).execute();
      return null;
    }
    const user = await this.db.selectFrom("users").selectAll().where("id", "=", s.user_id).executeTakeFirst();
    if (!user) return null;
    // A session opened with a key lives no longer than the key: deleted or expired, it is over.
    let scopes = s.scopes.split(",") as Scope[];
    let keyExpiresAt: number | null = null;
    if (s.key_id !== null) {
      const key = await this.db
        .selectFrom("api_keys")
        .select(["scopes", "expires_at"])
        .where("id", "=", s.key_id)
        .where("user_id", "=", s.user_id)
        .executeTakeFirst();
      if (!key || (key.expires_at !== null && key.expires_at <= now)) {
        await this.db.deleteFrom("sessions").where("id", "=", s.id).execute();
        return null;
      }
      // A key whose scopes were narrowed narrows its sessions too.
      const own = new Set(key.scopes.split(","));
      scopes = scopes.filter((x) => own.has(x));
      keyExpiresAt = key.expires_at;
    }
    if (now - s.last_seen_at >= TOUCH_MS) {
      s.last_seen_at = now;
      s.expires_at = now + SESSION_IDLE_MS;
      await this.db
        .updateTable("sessions")
        .set({ last_seen_at: now, expires_at: s.expires_at })
        .where("id", "=", s.id)
        .execute();
    }
    return { user, key: sessionKey(s, keyExpiresAt), scopes: new Set(scopes), session: s };
  }

  list(userId: string): Promise<Session[]> {
    return this.db
      .selectFrom("sessions")
      .selectAll()
      .where("user_id", "=", userId)
      .where("expires_at", ">", this.now())
      .orderBy("last_seen_at", "desc")
      .execute();
  }

  async revoke(userId: string, id: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom("sessions")
      .where("id", "=", id)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  /** Ends every session of a user but one (e.g. after a password change). */
  async revokeOthers(userId: string, keepId: string | null): Promise<number> {
    let q = this.db.deleteFrom("sessions").where("user_id", "=", userId);
    if (keepId) q = q.where("id", "!=", keepId);
    return Number((await q.executeTakeFirst()).numDeletedRows);
  }

  async prune(): Promise<void> {
    const now = this.now();
    await this.db.deleteFrom("sessions").where("expires_at", "<=", now).execute();
    await this.db.deleteFrom("setup_tokens").where("expires_at", "<=", now).execute();
    await this.db.deleteFrom("email_claims").where("expires_at", "<=", now).execute();
    await this.db
      .deleteFrom("signin_failures")
      .where("last_failure_at", "<", now - DAY)
      .execute();
  }

  /** A one-time link secret that lets its holder choose the user's password. */
  async createSetupToken(userId: string, ttlMs = SETUP_LINK_TTL_MS): Promise<string> {
    const now = this.now();
    const secret = token();
    await this.db
      .insertInto("setup_tokens")
      .values({ token_hash: sha256(secret), user_id: userId, created_at: now, expires_at: now + ttlMs, used_at: null })
      .execute();
    return secret;
  }

  /** Uses a setup secret up (once, even under races); the user it was for. */
  async consumeSetupToken(secret: string): Promise<User> {
    const now = this.now();
    const r = await this.db
      .updateTable("setup_tokens")
      .set({ used_at: now })
      .where("token_hash", "=", sha256(secret))
      .where("used_at", "is", null)
      .where("expires_at", ">", now)
      .returning("user_id")
      .executeTakeFirst();
    const user = r && (await this.db.selectFrom("users").selectAll().where("id", "=", r.user_id).executeTakeFirst());
    if (!user)
      throw new AppError(
        "FORBIDDEN",
        "This setup link is used up or expired: ask the operator for a new one (imgd users passwd NAME --link)",
      );
    return user;
  }

  async setupTokenValid(secret: string): Promise<boolean> {
    const row = await this.db
      .selectFrom("setup_tokens")
      .select("used_at")
      .where("token_hash", "=", sha256(secret))
      .where("expires_at", ">", this.now())
      .executeTakeFirst();
    return !!row && row.used_at === null;
  }
}

/** Failures allowed before the back-off starts; then 1 s, 2 s, 4 s … up to 15 minutes. */
export const FREE_FAILURES = 5;
const MAX_WAIT_MS = 15 * 60_000;
/** Failures of one account from every address before its sign-ins are slowed down. */
export const ACCOUNT_FREE_FAILURES = 20;
/** The most an account's failures from everywhere slow one sign-in down (they never refuse it). */
export const ACCOUNT_MAX_DELAY_MS = 2000;

/** What the back-off counts (the `subject` of signin_failures). */
export const signinSubject = {
  /** Password failures of one account from one address: refused (429) while backing off. */
  pair: (account: string, ip: string) => `user:${account}|ip:${ip}`,
  /** Password failures from one address over every account: refused while backing off. */
  ip: (ip: string) => `ip:${ip}`,
  /**
   * Password failures of one account from every address: they only slow its sign-ins down,
   * never refuse them, or anyone could lock the owner (the admin too) out from afar.
   */
  account: (account: string) => `user:${account}`,
  /** Bad keys sent to key sign-in from one address (password failures do not count here). */
  key: (ip: string) => `key-ip:${ip}`,
  /** Bad setup links from one address. */
  setup: (ip: string) => `setup-ip:${ip}`,
  /** Wrong current passwords given by a signed-in session of the account. */
  change: (account: string) => `password-change:${account}`,
};

/**
 * Back-off of failed sign-ins, counted in the database by subject (see signinSubject):
 * guessing one password slowly, or many accounts from one address, both slow down, while the
 * owner, from another address, with a key or a one-time link, still gets in.
 */
export class SignInGuard {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  static waitMs(failures: number): number {
    return failures < FREE_FAILURES ? 0 : Math.min(MAX_WAIT_MS, 1000 * 2 ** (failures - FREE_FAILURES));
  }

  /** The slow-down of an account's sign-ins after `failures` from everywhere: 250 ms, doubling, at most 2 s. */
  static paceMs(failures: number): number {
    return failures < ACCOUNT_FREE_FAILURES
      ? 0
      : Math.min(ACCOUNT_MAX_DELAY_MS, 250 * 2 ** (failures - ACCOUNT_FREE_FAILURES));
  }

  /** When the subjects' back-off ends (0: none), after the last failure by `wait` of the count. */
  async #until(subjects: string[], wait = SignInGuard.waitMs): Promise<number> {
    const now = this.now();
    const rows = await this.db.selectFrom("signin_failures").selectAll().where("subject", "in", subjects).execute();
    let until = 0;
    for (const r of rows) {
      if (now - r.last_failure_at > DAY) continue;
      until = Math.max(until, r.last_failure_at + wait(r.failures));
    }
    return until;
  }

  /** Refuses (429 with Retry-After) while any subject is waiting out its back-off. */
  async check(subjects: string[]): Promise<void> {
    const now = this.now();
    const until = await this.#until(subjects);
    if (until > now) {
      throw new AppError(
        "RATE_LIMIT_EXCEEDED",
        `Too many failed sign-ins: wait ${Math.ceil((until - now) / 1000)} s before trying again`,
        {
          retryAfter: Math.max(1, Math.ceil((until - now) / 1000)),
        },
      );
    }
  }

  /** Waits out an account's slow-down (paceMs), never longer than ACCOUNT_MAX_DELAY_MS: slows, never refuses. */
  async pace(subject: string): Promise<void> {
    const wait = (await this.#until([subject], SignInGuard.paceMs)) - this.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(wait, ACCOUNT_MAX_DELAY_MS)));
  }

  async fail(subjects: string[]): Promise<void> {
    const now = this.now();
    for (const subject of subjects) {
      const row = await this.db
        .selectFrom("signin_failures")
        .selectAll()
        .where("subject", "=", subject)
        .executeTakeFirst();
      // A day without failures starts the count over.
      const failures = row && now - row.last_failure_at <= DAY ? row.failures + 1 : 1;
      await this.db
        .insertInto("signin_failures")
        .values({ subject, failures, last_failure_at: now })
        .onConflict((oc) => oc.column("subject").doUpdateSet({ failures, last_failure_at: now }))
        .execute();
    }
  }

  /** A success clears the account's counts (not the address's: one good account must not reset it). */
  async succeed(subjects: string[]): Promise<void> {
    await this.db.deleteFrom("signin_failures").where("subject", "in", subjects).execute();
  }
}
