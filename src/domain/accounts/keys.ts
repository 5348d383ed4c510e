import { createHash } from "node:crypto";
import type { Db } from "../../db/connection.ts";
import type { ApiKey, User } from "../../db/schema.ts";
import { AppError } from "../errors.ts";
import { newId, randomAlnum } from "../ids.ts";

export type Scope = "read" | "write";
export const KEY_PREFIX = "imgsrc_";
/** img-src's format: the prefix and alphanumerics, 56 characters in all. */
const KEY_LENGTH = 56;
const DAY = 86_400_000;
/** img.pro's limit until an account is verified. */
export const UNVERIFIED_MAX_KEYS = 3;

export const hashKey = (secret: string) => createHash("sha256").update(secret).digest("hex");
export const looksLikeKey = (s: string) => s.startsWith(KEY_PREFIX) && s.length === KEY_LENGTH;
/** Imgwire client keys: public (shown in browser code), so they look nothing like a secret key. */
export const CLIENT_KEY_PREFIX = "imgwck_";
export const looksLikeClientKey = (s: string) => s.startsWith(CLIENT_KEY_PREFIX) && s.length === KEY_LENGTH;
export const newClientKey = () => CLIENT_KEY_PREFIX + randomAlnum(KEY_LENGTH - CLIENT_KEY_PREFIX.length);

export interface Principal {
  user: User;
  key: ApiKey;
  scopes: Set<Scope>;
}

/**
 * The most a key made by a caller may have: the caller's own scopes and no later expiry than
 * its own (null: none). Without it a leaked write-only key that expires tomorrow would mint
 * a read,write key that never does.
 */
export interface KeyBounds {
  scopes: ReadonlySet<Scope>;
  expiresAt: number | null;
}

/** What a principal may give the keys it makes (a session opened with a key is that key). */
export const boundsOf = (p: Principal): KeyBounds => ({ scopes: p.scopes, expiresAt: p.key.expires_at });

const when = (ms: number) => new Date(ms).toISOString();

/**
 * The scopes a new key gets: what was asked when it is within the bounds (a refusal naming
 * them otherwise), the bounds themselves when nothing was asked.
 */
export function boundScopes(asked: Scope[] | undefined, bounds: KeyBounds | undefined, field = "scopes"): Scope[] {
  const all: Scope[] = ["read", "write"];
  if (!bounds) return asked?.length ? [...new Set(asked)].sort() : all;
  const own = all.filter((s) => bounds.scopes.has(s));
  if (!asked?.length) return own;
  const extra = asked.filter((s) => !bounds.scopes.has(s));
  if (extra.length) {
    throw new AppError(
      "FORBIDDEN",
      `${field}: this key has only '${own.join(",")}' and cannot make a key with '${[...new Set(extra)].join(",")}'; ask for a subset of its scopes`,
      { field },
    );
  }
  return [...new Set(asked)].sort();
}

/**
 * The expiry of a new key: the one asked for when it is no later than the caller's own (a
 * refusal otherwise, also for "never"), the caller's own when none was asked (undefined).
 */
export function boundExpiry(
  asked: number | null | undefined,
  bounds: KeyBounds | undefined,
  field = "expires_in_days",
): number | null {
  if (!bounds || bounds.expiresAt === null) return asked ?? null;
  if (asked === undefined) return bounds.expiresAt;
  if (asked === null || asked > bounds.expiresAt) {
    throw new AppError(
      "FORBIDDEN",
      `${field}: this key expires at ${when(bounds.expiresAt)} and cannot make a key that outlives it; ask for an earlier expiry or leave it out`,
      { field },
    );
  }
  return asked;
}

export class Keys {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  /**
   * `bounds`: the calling key's (see KeyBounds); none for the operator's CLI and first start.
   * `expiresInDays` undefined means "not asked": the caller's own expiry, or never.
   */
  async create(
    userId: string,
    input: { name: string; scopes?: Scope[]; expiresInDays?: number | null },
    bounds?: KeyBounds,
  ) {
    const now = this.now();
    const scopes = boundScopes(input.scopes, bounds);
    const expiresAt = boundExpiry(
      input.expiresInDays === undefined ? undefined : input.expiresInDays ? now + input.expiresInDays * DAY : null,
      bounds,
    );
    const user = await this.db.selectFrom("users").select("verified").where("id", "=", userId).executeTakeFirst();
    if (user && !user.verified) {
      const { n } = await this.db
        .selectFrom("api_keys")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("user_id", "=", userId)
        .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]))
        .executeTakeFirstOrThrow();
      if (Number(n) >= UNVERIFIED_MAX_KEYS) {
        throw new AppError(
          "PLAN_LIMIT_EXCEEDED",
          `Unverified accounts may have at most ${UNVERIFIED_MAX_KEYS} active keys; delete one or ask the operator to verify the account`,
          {
            reason: "key_limit_reached",
          },
        );
      }
    }
    const secret = KEY_PREFIX + randomAlnum(KEY_LENGTH - KEY_PREFIX.length);
    const row = {
      id: newId(now),
      user_id: userId,
      name: input.name,
      key_prefix: secret.slice(0, KEY_PREFIX.length + 6),
      key_hash: hashKey(secret),
      last4: secret.slice(-4),
      scopes: scopes.join(","),
      options: null,
      created_at: now,
      expires_at: expiresAt,
      last_used_at: null,
    };
    await this.db.insertInto("api_keys").values(row).execute();
    const key = await this.db.selectFrom("api_keys").selectAll().where("id", "=", row.id).executeTakeFirstOrThrow();
    return { key, secret };
  }

  list(userId: string): Promise<ApiKey[]> {
    return this.db
      .selectFrom("api_keys")
      .selectAll()
      .where("user_id", "=", userId)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .execute();
  }

  byId(id: string): Promise<ApiKey | undefined> {
    return this.db.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirst();
  }

  async delete(userId: string, id: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom("api_keys")
      .where("id", "=", id)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  /** Resolves a secret to its key and user, counting the use; throws UNAUTHORIZED otherwise. */
  async authenticate(secret: string, opts: { allowClient?: boolean } = {}): Promise<Principal> {
    if (!looksLikeKey(secret) && !(opts.allowClient && looksLikeClientKey(secret)))
      throw new AppError("UNAUTHORIZED", "Invalid API key format");
    const now = this.now();
    const key = await this.db
      .selectFrom("api_keys")
      .selectAll()
      .where("key_hash", "=", hashKey(secret))
      .executeTakeFirst();
    if (!key) throw new AppError("UNAUTHORIZED", "Invalid or deleted API key");
    if (key.expires_at !== null && key.expires_at <= now) throw new AppError("UNAUTHORIZED", "API key has expired");
    // A client key is public: it may only do what the Imgwire dialect lets browsers do.
    if (key.kind === "client" && !opts.allowClient)
      throw new AppError("UNAUTHORIZED", "Client keys only work on Imgwire's upload routes");
    const user = await this.db.selectFrom("users").selectAll().where("id", "=", key.user_id).executeTakeFirst();
    if (!user) throw new AppError("UNAUTHORIZED", "Invalid or deleted API key");
    await this.db
      .updateTable("api_keys")
      .set((eb) => ({ last_used_at: now, total_requests: eb("total_requests", "+", 1) }))
      .where("id", "=", key.id)
      .execute();
    return { user, key, scopes: new Set(key.scopes.split(",") as Scope[]) };
  }
}
