import type { ImgwireCorsOrigin } from "../../db/schema.ts";
import type { Db } from "../../db/connection.ts";
import { invalid, notFound } from "../errors.ts";
import { newId } from "../ids.ts";
import { HOSTNAME } from "./domains.ts";

// The browser origins from which an environment's client keys may be used.

export class CorsOrigins {
  constructor(private readonly d: { db: Db; now: () => number }) {}

  async origins(userId: string, page?: { limit: number; offset: number }) {
    const q = this.d.db.selectFrom("imgwire_cors_origins").where("user_id", "=", userId);
    const { n } = await q.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    let rows = q.selectAll().orderBy("created_at").orderBy("id");
    if (page) rows = rows.limit(page.limit).offset(page.offset);
    return { rows: await rows.execute(), total: Number(n) };
  }

  async origin(userId: string, id: string): Promise<ImgwireCorsOrigin> {
    const o = await this.d.db
      .selectFrom("imgwire_cors_origins")
      .selectAll()
      .where("id", "=", id)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    if (!o) throw notFound("CORS origin");
    return o;
  }

  async createOrigin(userId: string, pattern: string): Promise<ImgwireCorsOrigin> {
    const now = this.d.now();
    const row = {
      id: newId(now),
      user_id: userId,
      pattern: normalizePattern(pattern),
      created_at: now,
      updated_at: now,
    };
    await this.d.db.insertInto("imgwire_cors_origins").values(row).execute();
    return row;
  }

  async updateOrigin(userId: string, id: string, pattern: string): Promise<ImgwireCorsOrigin> {
    await this.origin(userId, id);
    await this.d.db
      .updateTable("imgwire_cors_origins")
      .set({ pattern: normalizePattern(pattern), updated_at: this.d.now() })
      .where("id", "=", id)
      .execute();
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
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom("imgwire_cors_origins").select("id").whereRef("imgwire_cors_origins.user_id", "=", "users.id"),
          ),
        ),
      )
      .limit(1)
      .executeTakeFirst();
    if (open) return true;
    const listed = await this.d.db.selectFrom("imgwire_cors_origins").select("pattern").distinct().execute();
    return listed.some((r) => originMatches(r.pattern, origin));
  }
}

/** `https://app.example.com` exactly, or `https://*.example.com` for any subdomain of it. */
export function normalizePattern(raw: string): string {
  const p = raw.trim().toLowerCase().replace(/\/+$/, "");
  const m = /^(https?):\/\/(\*\.)?([a-z0-9.-]+)(:\d{1,5})?$/.exec(p);
  if (!m || !HOSTNAME.test(m[3])) {
    throw invalid("pattern", "expected an origin like https://app.example.com or https://*.example.com");
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
