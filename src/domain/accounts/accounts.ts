import type { Db } from "../../db/connection.ts";
import type { User } from "../../db/schema.ts";
import { AppError, notFound } from "../errors.ts";
import type { Images } from "../library/images.ts";
import type { Keys } from "./keys.ts";
import { HOUR, type RateLimits } from "../metering/ratelimits.ts";
import type { Users } from "./users.ts";
import { randomBytes } from "node:crypto";

// Accounts as tenants see them: self-registration (img.pro's POST /v1/keys), verification and
// removal by an operator.

export const REGISTER_PER_EMAIL_HOUR = 5;
export const REGISTER_PER_IP_HOUR = 20;
/** The owner of anonymous uploads; the leading '_' keeps it out of the usernames people pick. */
export const ANONYMOUS_USERNAME = "_anonymous";
/** A username people pick: 2–39 lowercase letters, digits, '-' or '_', not starting with '-' or '_'. */
export const USERNAME = /^[a-z0-9][a-z0-9_-]{1,38}$/;

const EMAIL =
  /^[^\s@<>()[\]\\,;:"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$/;

export function normalizeEmail(email: string): string | null {
  const e = email.trim().toLowerCase();
  return e.length <= 254 && EMAIL.test(e) ? e : null;
}

export class Accounts {
  constructor(
    private readonly d: { db: Db; users: Users; keys: Keys; images: Images; rates: RateLimits; now: () => number },
  ) {}

  /**
   * Creates an unverified account for an email and its first key. An email that has an
   * account already gets another key only when the caller proves it owns it (`caller`):
   * a key for anyone who knows an address would be an account takeover.
   */
  async register(input: { email: string; keyName: string; ip: string; caller?: User }) {
    const email = normalizeEmail(input.email);
    if (!email)
      throw new AppError("VALIDATION_ERROR", "email: is not a valid email address", {
        field: "email",
        errors: { email: "is not a valid email address" },
      });
    await this.d.rates.take(
      [
        {
          subject: `register-email:${email}`,
          limit: REGISTER_PER_EMAIL_HOUR,
          windowMs: HOUR,
          label: `${REGISTER_PER_EMAIL_HOUR} per email per hour`,
        },
        {
          subject: `register-ip:${input.ip}`,
          limit: REGISTER_PER_IP_HOUR,
          windowMs: HOUR,
          label: `${REGISTER_PER_IP_HOUR} per IP address per hour`,
        },
      ],
      "key requests",
    );
    const existing = await this.d.db
      .selectFrom("users")
      .selectAll()
      .where("email", "=", email)
      .orderBy("created_at")
      .executeTakeFirst();
    let user: User;
    if (existing) {
      if (input.caller?.id !== existing.id) {
        throw new AppError(
          "FORBIDDEN",
          "An account with this email exists: send one of its keys (Authorization: Bearer) to create another",
        );
      }
      user = existing;
    } else {
      user = await this.d.users.create({ username: await this.#freeUsername(), email, plan: "imgpro" });
      user = await this.d.users.update(user.id, { verified: 0 });
    }
    const { key, secret } = await this.d.keys.create(user.id, { name: input.keyName });
    return { user, key, secret, created: !existing };
  }

  /** Opaque, like img.pro's team hash: a delivery URL should not reveal an email address. */
  async #freeUsername(): Promise<string> {
    for (;;) {
      const name = `t${randomBytes(6).toString("hex")}`;
      if (!(await this.d.users.byUsername(name))) return name;
    }
  }

  list(): Promise<User[]> {
    return this.d.db
      .selectFrom("users")
      .selectAll()
      .where("username", "!=", ANONYMOUS_USERNAME)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
  }

  /** By id, username or email. */
  async find(ref: string): Promise<User> {
    const u = await this.d.db
      .selectFrom("users")
      .selectAll()
      .where((eb) => eb.or([eb("id", "=", ref), eb("username", "=", ref), eb("email", "=", ref.toLowerCase())]))
      .executeTakeFirst();
    if (!u) throw notFound("User");
    return u;
  }

  async setVerified(ref: string, verified: boolean): Promise<User> {
    const u = await this.find(ref);
    return this.d.users.update(u.id, { verified: verified ? 1 : 0 });
  }

  /** Removes a tenant with everything it owns; blobs no other tenant uses go too. */
  async delete(ref: string): Promise<User> {
    const u = await this.find(ref);
    if (u.role === "admin") {
      const admins = await this.d.db.selectFrom("users").select("id").where("role", "=", "admin").execute();
      if (admins.length <= 1) throw new AppError("CONFLICT", "The last admin cannot be deleted");
    }
    for (;;) {
      const rows = await this.d.db.selectFrom("images").select("id").where("user_id", "=", u.id).limit(500).execute();
      if (rows.length === 0) break;
      await this.d.images.delete(
        u.id,
        rows.map((r) => r.id),
      );
    }
    await this.d.db.deleteFrom("users").where("id", "=", u.id).execute();
    return u;
  }

  /** The owner of anonymous uploads, made on first use. */
  async anonymous(): Promise<User> {
    const found = await this.d.users.byUsername(ANONYMOUS_USERNAME);
    if (found) return found;
    try {
      const u = await this.d.users.create({ username: ANONYMOUS_USERNAME, plan: "unlimited" });
      return this.d.users.update(u.id, { verified: 0 });
    } catch {
      // Another request made it first.
      return (await this.d.users.byUsername(ANONYMOUS_USERNAME))!;
    }
  }
}
