import type { Db } from "../../db/connection.ts";
import type { ApiKey } from "../../db/schema.ts";
import { notFound } from "../errors.ts";
import { newId } from "../ids.ts";
import {
  boundExpiry,
  boundScopes,
  hashKey,
  type KeyBounds,
  type Keys,
  newClientKey,
  type Scope,
} from "../accounts/keys.ts";

// Imgwire's API keys: SERVER keys are imgd's ordinary keys (with Imgwire's free-form scopes
// kept beside them); CLIENT keys are public and carry the limits of what they may upload.

export interface ClientKeyOptions {
  client_key: string;
  allow_unsigned_upload: boolean;
  maximum_upload_bytes: number | null;
  allowed_mime_types: string[] | null;
  maximum_pending_uploads: number | null;
}

export interface KeyExtras {
  /** Imgwire scopes as the caller sent them (native ones are derived). */
  scopes?: string[];
  updated_at?: number;
  client?: ClientKeyOptions;
}

export const keyExtras = (key: ApiKey): KeyExtras => (key.options as KeyExtras | null) ?? {};
export const clientOptions = (key: ApiKey): ClientKeyOptions | null =>
  key.kind === "client" ? (keyExtras(key).client ?? null) : null;

/** read/write from Imgwire's free-form scopes (none: not asked); anything naming only reads is read-only. */
function nativeScopes(scopes: string[] | undefined): Scope[] | undefined {
  if (!scopes?.length) return undefined;
  const writes = scopes.some((s) => !/(^|[:._-])read$/i.test(s));
  return writes ? ["read", "write"] : ["read"];
}

export interface KeyInput {
  name?: string | null;
  scopes?: string[] | null;
  allow_unsigned_upload?: boolean | null;
  maximum_upload_bytes?: number | null;
  allowed_mime_types?: string[] | null;
  maximum_pending_uploads?: number | null;
}

export class ImgwireKeys {
  constructor(private readonly d: { db: Db; keys: Keys; now: () => number }) {}

  /** `bounds`: the calling key's; a new key of either type is never stronger (see KeyBounds). */
  async createKey(
    userId: string,
    type: "SERVER" | "CLIENT",
    input: KeyInput & { name: string },
    bounds: KeyBounds,
  ): Promise<{ key: ApiKey; secret: string | null }> {
    const now = this.d.now();
    if (type === "SERVER") {
      const { key, secret } = await this.d.keys.create(
        userId,
        { name: input.name, scopes: nativeScopes(input.scopes ?? undefined) },
        bounds,
      );
      const extras: KeyExtras = { scopes: input.scopes ?? undefined, updated_at: now };
      await this.d.db
        .updateTable("api_keys")
        .set({ options: JSON.stringify(extras) })
        .where("id", "=", key.id)
        .execute();
      return { key: await this.key(userId, key.id), secret };
    }
    const clientKey = newClientKey();
    const extras: KeyExtras = {
      scopes: input.scopes ?? undefined,
      updated_at: now,
      client: {
        client_key: clientKey,
        allow_unsigned_upload: input.allow_unsigned_upload ?? false,
        maximum_upload_bytes: input.maximum_upload_bytes ?? null,
        allowed_mime_types: input.allowed_mime_types ?? null,
        maximum_pending_uploads: input.maximum_pending_uploads ?? null,
      },
    };
    // A client key uploads from browsers: it carries the caller's scopes and expiry at most.
    const scopes = boundScopes(undefined, bounds);
    const expiresAt = boundExpiry(undefined, bounds);
    const id = newId(now);
    await this.d.db
      .insertInto("api_keys")
      .values({
        id,
        user_id: userId,
        name: input.name,
        kind: "client",
        key_prefix: clientKey.slice(0, 13),
        key_hash: hashKey(clientKey),
        last4: clientKey.slice(-4),
        scopes: scopes.join(","),
        options: JSON.stringify(extras),
        created_at: now,
        expires_at: expiresAt,
        last_used_at: null,
      })
      .execute();
    return { key: await this.key(userId, id), secret: null };
  }

  async key(userId: string, id: string): Promise<ApiKey> {
    const k = await this.d.db
      .selectFrom("api_keys")
      .selectAll()
      .where("id", "=", id)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    if (!k) throw notFound("API key");
    return k;
  }

  async listKeys(userId: string, kind: "server" | "client" | undefined, page: { limit: number; offset: number }) {
    let q = this.d.db.selectFrom("api_keys").where("user_id", "=", userId);
    if (kind) q = q.where("kind", "=", kind);
    const { n } = await q.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    const rows = await q
      .selectAll()
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    return { rows, total: Number(n) };
  }

  /** `bounds`: the calling key's; new scopes must be within them, or a key could raise itself. */
  async updateKey(userId: string, id: string, input: KeyInput, bounds: KeyBounds): Promise<ApiKey> {
    const key = await this.key(userId, id);
    const scopes = input.scopes && key.kind === "server" ? boundScopes(nativeScopes(input.scopes), bounds) : null;
    const extras = keyExtras(key);
    extras.updated_at = this.d.now();
    if (input.scopes !== undefined && input.scopes !== null) extras.scopes = input.scopes;
    if (extras.client) {
      const c = extras.client;
      if (input.allow_unsigned_upload !== undefined && input.allow_unsigned_upload !== null)
        c.allow_unsigned_upload = input.allow_unsigned_upload;
      if (input.maximum_upload_bytes !== undefined) c.maximum_upload_bytes = input.maximum_upload_bytes;
      if (input.allowed_mime_types !== undefined) c.allowed_mime_types = input.allowed_mime_types;
      if (input.maximum_pending_uploads !== undefined) c.maximum_pending_uploads = input.maximum_pending_uploads;
    }
    await this.d.db
      .updateTable("api_keys")
      .set({
        ...(input.name ? { name: input.name } : {}),
        ...(scopes ? { scopes: scopes.join(",") } : {}),
        options: JSON.stringify(extras),
      })
      .where("id", "=", id)
      .execute();
    return this.key(userId, id);
  }

  async deleteKey(userId: string, id: string) {
    if (!(await this.d.keys.delete(userId, id))) throw notFound("API key");
  }
}
