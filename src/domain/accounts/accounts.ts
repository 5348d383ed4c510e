import type { Db } from "../../db/connection.ts";
import type { User } from "../../db/schema.ts";
import { AppError, notFound } from "../errors.ts";
import type { Images } from "../library/images.ts";
import { boundsOf, type Keys, type Principal } from "./keys.ts";
import { HOUR, type RateLimits } from "../metering/ratelimits.ts";
import type { Users } from "./users.ts";
import { createHash, randomBytes } from "node:crypto";

// Accounts as tenants see them: self-registration (img.pro's POST /v1/keys), verification and
// removal by an operator.

export const REGISTER_PER_EMAIL_HOUR = 5;
export const REGISTER_PER_IP_HOUR = 20;
/** The owner of anonymous uploads; the leading '_' keeps it out of the usernames people pick. */
export const ANONYMOUS_USERNAME = "_anonymous";
/** A username people pick: 2–39 lowercase letters, digits, '-' or '_', not starting with '-' or '_'. */
export const USERNAME = /^[a-z0-9][a-z0-9_-]{1,38}$/;
/** How long a link confirming an email address works. */
export const EMAIL_LINK_TTL_MS = 24 * HOUR;

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

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
   *
   * The address is not the new account's yet: it becomes its only when the link sent to it
   * (`claim`, the secret of /auth/email/confirm) is opened, so nobody can squat someone
   * else's address (and lock its owner out of registering, or be found by its sign-in).
   */
  async register(input: { email: string; keyName: string; ip: string; caller?: Principal }) {
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
    const caller = input.caller;
    let user: User;
    let claim: string | null = null;
    if (existing) {
      if (caller?.user.id !== existing.id) {
        throw new AppError(
          "FORBIDDEN",
          "An account with this email exists: send one of its keys (Authorization: Bearer) to create another",
        );
      }
      user = existing;
    } else if (caller && (await this.#claimed(caller.user.id, email))) {
      // The caller's own account, its address not confirmed yet.
      user = caller.user;
    } else {
      user = await this.d.users.create({ username: await this.#freeUsername(), email: null, plan: "imgpro" });
      user = await this.d.users.update(user.id, { verified: 0 });
      claim = await this.claimEmail(user.id, email);
    }
    // A key made with a key is never stronger than the caller's (its scopes, its expiry).
    const bounds = caller && caller.user.id === user.id ? boundsOf(caller) : undefined;
    const { key, secret } = await this.d.keys.create(user.id, { name: input.keyName }, bounds);
    return { user, key, secret, created: claim !== null, claim };
  }

  /** Whether a user has a pending claim on an address. */
  async #claimed(userId: string, email: string): Promise<boolean> {
    return !!(await this.d.db
      .selectFrom("email_claims")
      .select("user_id")
      .where("user_id", "=", userId)
      .where("email", "=", email)
      .where("expires_at", ">", this.d.now())
      .executeTakeFirst());
  }

  /** A one-time secret that makes `email` the user's when presented (the link sent to the address). */
  async claimEmail(userId: string, email: string): Promise<string> {
    const now = this.d.now();
    const secret = randomBytes(32).toString("base64url");
    await this.d.db
      .insertInto("email_claims")
      .values({
        token_hash: sha256(secret),
        user_id: userId,
        email,
        created_at: now,
        expires_at: now + EMAIL_LINK_TTL_MS,
      })
      .execute();
    return secret;
  }

  /**
   * Uses a confirmation link: its address becomes its account's, unless another account
   * confirmed the same address first (409). Every claim of that account ends.
   */
  async confirmEmail(secret: string): Promise<User> {
    const now = this.d.now();
    const claim =
      /^[A-Za-z0-9_-]{43}$/.test(secret) &&
      (await this.d.db
        .selectFrom("email_claims")
        .selectAll()
        .where("token_hash", "=", sha256(secret))
        .where("expires_at", ">", now)
        .executeTakeFirst());
    if (!claim)
      throw new AppError(
        "FORBIDDEN",
        "This confirmation link is used up or expired: register the address again for a new one",
      );
    const owner = await this.d.db.selectFrom("users").select("id").where("email", "=", claim.email).executeTakeFirst();
    if (owner && owner.id !== claim.user_id)
      throw new AppError("CONFLICT", "Another account confirmed this address first: sign in to that one");
    await this.d.db.deleteFrom("email_claims").where("user_id", "=", claim.user_id).execute();
    return this.d.users.update(claim.user_id, { email: claim.email });
  }

  /** Opaque, like img.pro's team hash: a delivery URL should not reveal an email address. */
  async #freeUsername(): Promise<string> {
    for (;;) {
      const name = `t${randomBytes(6).toString("hex")}`;
      if (!(await this.d.users.taken(name))) return name;
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
    // Its name stays taken: old delivery URLs and signatures name it. (The anonymous owner is
    // the server's own and comes back under its name.)
    if (u.username !== ANONYMOUS_USERNAME) await this.d.users.retire(u);
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
