import { argon2id, argon2Verify } from "hash-wasm";
import { getRandomValues } from "node:crypto";
import type { Db } from "../../db/connection.ts";
import type { User } from "../../db/schema.ts";
import { invalid } from "../errors.ts";

// Passwords, hashed with argon2id in WebAssembly (hash-wasm), so Bun, Deno and the compiled
// binary compute the same hashes. Parameters: OWASP's first recommendation (19 MiB, 2 passes,
// one lane), about 50–100 ms here; they travel inside the PHC string, so raising them later
// leaves old hashes verifiable.

const PARAMS = { parallelism: 1, iterations: 2, memorySize: 19_456, hashLength: 32 } as const;
export const MIN_PASSWORD = 10;
export const MAX_PASSWORD = 256;

export function checkPasswordRules(password: string): void {
  if (typeof password !== "string" || password.length < MIN_PASSWORD) {
    throw invalid("password", `must be at least ${MIN_PASSWORD} characters`);
  }
  if (password.length > MAX_PASSWORD) {
    throw invalid("password", `must be at most ${MAX_PASSWORD} characters`);
  }
}

export const hashPassword = (password: string) =>
  argon2id({ password, salt: getRandomValues(new Uint8Array(16)), ...PARAMS, outputType: "encoded" });

export class Passwords {
  /** A hash of nothing in particular: unknown users cost the same time as known ones. */
  #decoy: Promise<string> | null = null;

  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  async set(userId: string, password: string): Promise<void> {
    checkPasswordRules(password);
    const hash = await hashPassword(password);
    const now = this.now();
    await this.db
      .insertInto("user_passwords")
      .values({ user_id: userId, hash, updated_at: now })
      .onConflict((oc) => oc.column("user_id").doUpdateSet({ hash, updated_at: now }))
      .execute();
  }

  /** The user a sign-in names: by username, or by email address when it has an '@'. */
  async userByLogin(login: string): Promise<User | undefined> {
    const name = login.trim().toLowerCase();
    const q = this.db.selectFrom("users").selectAll();
    return name.includes("@")
      ? q.where("email", "=", name).orderBy("created_at").executeTakeFirst()
      : q.where("username", "=", name).executeTakeFirst();
  }

  async has(userId: string): Promise<boolean> {
    return !!(await this.db
      .selectFrom("user_passwords")
      .select("user_id")
      .where("user_id", "=", userId)
      .executeTakeFirst());
  }

  /** Whether the password is the user's; a user without one (or none at all) takes as long. */
  async verify(userId: string | null, password: string): Promise<boolean> {
    const row = userId
      ? await this.db.selectFrom("user_passwords").select("hash").where("user_id", "=", userId).executeTakeFirst()
      : undefined;
    if (!row || password.length > MAX_PASSWORD) {
      this.#decoy ??= hashPassword("decoy password, never valid");
      await argon2Verify({ password: password.slice(0, MAX_PASSWORD), hash: await this.#decoy });
      return false;
    }
    return argon2Verify({ password, hash: row.hash });
  }
}
