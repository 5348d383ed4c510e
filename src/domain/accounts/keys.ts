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

export class Keys {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  async create(userId: string, input: { name: string; scopes?: Scope[]; expiresInDays?: number | null }) {
    const now = this.now();
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
    const scopes = input.scopes?.length ? [...new Set(input.scopes)].sort() : ["read", "write"];
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
      expires_at: input.expiresInDays ? now + input.expiresInDays * DAY : null,
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
