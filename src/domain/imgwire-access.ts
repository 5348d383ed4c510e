import type { ImgwireCorsOrigin, ImgwireDomain } from "../db/imgwire-schema.ts";
import type { Db } from "../db/connection.ts";
import type { ApiKey, User } from "../db/schema.ts";
import { ANONYMOUS_USERNAME, type Accounts } from "./accounts.ts";
import { AppError, notFound } from "./errors.ts";
import { newId, randomAlnum } from "./ids.ts";
import { hashKey, type Keys, newClientKey, type Scope } from "./keys.ts";
import type { Users } from "./users.ts";

// Who may act on an Imgwire environment (a tenant) and from where: client keys and their
// limits, environments, CORS origins, the custom delivery domain.

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

export const keyExtras = (key: ApiKey): KeyExtras => (key.options ? (JSON.parse(key.options) as KeyExtras) : {});
export const clientOptions = (key: ApiKey): ClientKeyOptions | null => (key.kind === "client" ? (keyExtras(key).client ?? null) : null);

/** read/write from Imgwire's free-form scopes: anything naming only reads is read-only. */
function nativeScopes(scopes: string[] | undefined): Scope[] {
  if (!scopes?.length) return ["read", "write"];
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

export class ImgwireAccess {
  constructor(private readonly d: { db: Db; keys: Keys; users: Users; accounts: Accounts; now: () => number }) {}

  // ---- keys ----

  async createKey(userId: string, type: "SERVER" | "CLIENT", input: KeyInput & { name: string }): Promise<{ key: ApiKey; secret: string | null }> {
    const now = this.d.now();
    if (type === "SERVER") {
      const { key, secret } = await this.d.keys.create(userId, { name: input.name, scopes: nativeScopes(input.scopes ?? undefined) });
      const extras: KeyExtras = { scopes: input.scopes ?? undefined, updated_at: now };
      await this.d.db.updateTable("api_keys").set({ options: JSON.stringify(extras) }).where("id", "=", key.id).execute();
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
        scopes: "read,write",
        options: JSON.stringify(extras),
        created_at: now,
        expires_at: null,
        last_used_at: null,
      })
      .execute();
    return { key: await this.key(userId, id), secret: null };
  }

  async key(userId: string, id: string): Promise<ApiKey> {
    const k = await this.d.db.selectFrom("api_keys").selectAll().where("id", "=", id).where("user_id", "=", userId).executeTakeFirst();
    if (!k) throw notFound("API key");
    return k;
  }

  async listKeys(userId: string, kind: "server" | "client" | undefined, page: { limit: number; offset: number }) {
    let q = this.d.db.selectFrom("api_keys").where("user_id", "=", userId);
    if (kind) q = q.where("kind", "=", kind);
    const { n } = await q.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    const rows = await q.selectAll().orderBy("created_at", "desc").orderBy("id", "desc").limit(page.limit).offset(page.offset).execute();
    return { rows, total: Number(n) };
  }

  async updateKey(userId: string, id: string, input: KeyInput): Promise<ApiKey> {
    const key = await this.key(userId, id);
    const extras = keyExtras(key);
    extras.updated_at = this.d.now();
    if (input.scopes !== undefined && input.scopes !== null) extras.scopes = input.scopes;
    if (extras.client) {
      const c = extras.client;
      if (input.allow_unsigned_upload !== undefined && input.allow_unsigned_upload !== null) c.allow_unsigned_upload = input.allow_unsigned_upload;
      if (input.maximum_upload_bytes !== undefined) c.maximum_upload_bytes = input.maximum_upload_bytes;
      if (input.allowed_mime_types !== undefined) c.allowed_mime_types = input.allowed_mime_types;
      if (input.maximum_pending_uploads !== undefined) c.maximum_pending_uploads = input.maximum_pending_uploads;
    }
    await this.d.db
      .updateTable("api_keys")
      .set({
        ...(input.name ? { name: input.name } : {}),
        ...(input.scopes && key.kind === "server" ? { scopes: nativeScopes(input.scopes).join(",") } : {}),
        options: JSON.stringify(extras),
      })
      .where("id", "=", id)
      .execute();
    return this.key(userId, id);
  }

  async deleteKey(userId: string, id: string) {
    if (!(await this.d.keys.delete(userId, id))) throw notFound("API key");
  }

  // ---- environments ----

  async environments(caller: User, page: { limit: number; offset: number }) {
    let q = this.d.db.selectFrom("users").where("username", "!=", ANONYMOUS_USERNAME);
    if (caller.role !== "admin") q = q.where("id", "=", caller.id);
    const { n } = await q.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    const rows = await q.selectAll().orderBy("created_at").orderBy("id").limit(page.limit).offset(page.offset).execute();
    return { rows, total: Number(n) };
  }

  async environment(caller: User, id: string): Promise<User> {
    const u = await this.d.users.byId(id);
    if (!u) throw notFound("Environment");
    if (caller.role !== "admin" && u.id !== caller.id) throw new AppError("FORBIDDEN", "This key may not act on that environment");
    return u;
  }

  async createEnvironment(caller: User, name: string): Promise<User> {
    if (caller.role !== "admin") throw new AppError("FORBIDDEN", "Only an admin key may create environments");
    const user = await this.d.users.create({ username: `env-${randomAlnum(10).toLowerCase()}`, plan: "unlimited" });
    return this.d.users.update(user.id, { display_name: name });
  }

  async renameEnvironment(caller: User, id: string, name: string): Promise<User> {
    const u = await this.environment(caller, id);
    return this.d.users.update(u.id, { display_name: name });
  }

  async deleteEnvironment(caller: User, id: string) {
    const u = await this.environment(caller, id);
    if (caller.role !== "admin") throw new AppError("FORBIDDEN", "Only an admin key may delete environments");
    if (u.id === caller.id) throw new AppError("CONFLICT", "An environment cannot delete itself");
    await this.d.accounts.delete(u.id);
  }

  // ---- CORS origins ----

  async origins(userId: string, page?: { limit: number; offset: number }) {
    const q = this.d.db.selectFrom("imgwire_cors_origins").where("user_id", "=", userId);
    const { n } = await q.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    let rows = q.selectAll().orderBy("created_at").orderBy("id");
    if (page) rows = rows.limit(page.limit).offset(page.offset);
    return { rows: await rows.execute(), total: Number(n) };
  }

  async origin(userId: string, id: string): Promise<ImgwireCorsOrigin> {
    const o = await this.d.db.selectFrom("imgwire_cors_origins").selectAll().where("id", "=", id).where("user_id", "=", userId).executeTakeFirst();
    if (!o) throw notFound("CORS origin");
    return o;
  }

  async createOrigin(userId: string, pattern: string): Promise<ImgwireCorsOrigin> {
    const now = this.d.now();
    const row = { id: newId(now), user_id: userId, pattern: normalizePattern(pattern), created_at: now, updated_at: now };
    await this.d.db.insertInto("imgwire_cors_origins").values(row).execute();
    return row;
  }

  async updateOrigin(userId: string, id: string, pattern: string): Promise<ImgwireCorsOrigin> {
    await this.origin(userId, id);
    await this.d.db.updateTable("imgwire_cors_origins").set({ pattern: normalizePattern(pattern), updated_at: this.d.now() }).where("id", "=", id).execute();
    return this.origin(userId, id);
  }

  async deleteOrigin(userId: string, id: string) {
    await this.origin(userId, id);
    await this.d.db.deleteFrom("imgwire_cors_origins").where("id", "=", id).execute();
  }

  /** With no origins configured any origin may use the client keys (as Imgwire documents). */
  async originAllowed(userId: string, origin: string): Promise<boolean> {
    const { rows } = await this.origins(userId);
    return rows.length === 0 || rows.some((r) => originMatches(r.pattern, origin));
  }

  /**
   * Whether some environment lets this origin use its client keys. A preflight carries no key,
   * so it is answered for all environments at once: one that lists no origins lets any in.
   */
  async anyAllows(origin: string): Promise<boolean> {
    const open = await this.d.db
      .selectFrom("users")
      .select("id")
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom("imgwire_cors_origins").select("id").whereRef("imgwire_cors_origins.user_id", "=", "users.id"))))
      .limit(1)
      .executeTakeFirst();
    if (open) return true;
    const listed = await this.d.db.selectFrom("imgwire_cors_origins").select("pattern").distinct().execute();
    return listed.some((r) => originMatches(r.pattern, origin));
  }

  // ---- custom domain ----

  domain(userId: string): Promise<ImgwireDomain | undefined> {
    return this.d.db.selectFrom("imgwire_domains").selectAll().where("user_id", "=", userId).executeTakeFirst();
  }

  async setDomain(userId: string, hostname: string): Promise<ImgwireDomain> {
    const now = this.d.now();
    const host = normalizeHostname(hostname);
    const taken = await this.d.db.selectFrom("imgwire_domains").select("user_id").where("hostname", "=", host).executeTakeFirst();
    if (taken && taken.user_id !== userId) throw new AppError("CONFLICT", `${host} is the custom domain of another environment`);
    await this.d.db.deleteFrom("imgwire_domains").where("user_id", "=", userId).execute();
    await this.d.db.insertInto("imgwire_domains").values({ id: newId(now), user_id: userId, hostname: host, status: "PENDING", last_verified_at: null, created_at: now, updated_at: now }).execute();
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
    const domain = await this.d.db.selectFrom("imgwire_domains").selectAll().where("hostname", "=", hostname.toLowerCase()).executeTakeFirst();
    const user = domain && (await this.d.users.byId(domain.user_id));
    return domain && user ? { domain, user } : undefined;
  }
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function normalizeHostname(raw: string): string {
  const h = raw.trim().toLowerCase().replace(/\.$/, "");
  if (!HOSTNAME.test(h)) throw new AppError("VALIDATION_ERROR", "hostname: is not a valid host name", { field: "hostname" });
  return h;
}

/** `https://app.example.com` exactly, or `https://*.example.com` for any subdomain of it. */
export function normalizePattern(raw: string): string {
  const p = raw.trim().toLowerCase().replace(/\/+$/, "");
  const m = /^(https?):\/\/(\*\.)?([a-z0-9.-]+)(:\d{1,5})?$/.exec(p);
  if (!m || !HOSTNAME.test(m[3])) {
    throw new AppError("VALIDATION_ERROR", "pattern: expected an origin like https://app.example.com or https://*.example.com", { field: "pattern" });
  }
  return p;
}

export function originMatches(pattern: string, origin: string): boolean {
  const o = origin.toLowerCase();
  if (!pattern.includes("*")) return o === pattern;
  const [scheme, rest] = pattern.split("://*.");
  const m = /^(https?):\/\/([a-z0-9.-]+)(:\d+)?$/.exec(o);
  if (!m || m[1] !== scheme) return false;
  const [suffix, port] = rest.split(/(?=:\d+$)/);
  return m[2].endsWith(`.${suffix}`) && (m[3] ?? "") === (port ?? "");
}
