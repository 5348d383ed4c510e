import type { Db } from "../../db/connection.ts";
import type { User, UserUpdate } from "../../db/schema.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";

/** Tenants: every image, key, preset and counter belongs to one. */
export class Users {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  byId(id: string): Promise<User | undefined> {
    return this.db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** Every user, oldest first. */
  list(): Promise<User[]> {
    return this.db.selectFrom("users").selectAll().orderBy("created_at").execute();
  }

  byUsername(username: string): Promise<User | undefined> {
    return this.db.selectFrom("users").selectAll().where("username", "=", username).executeTakeFirst();
  }

  /**
   * Whether a name is in use or was a deleted account's: delivery URLs and signatures name the
   * username, so a name is never given to a second owner (old links would serve the new one's files).
   */
  async taken(username: string): Promise<"in-use" | "retired" | null> {
    if (await this.byUsername(username)) return "in-use";
    const r = await this.db
      .selectFrom("retired_usernames")
      .select("username")
      .where("username", "=", username)
      .executeTakeFirst();
    return r ? "retired" : null;
  }

  /** Keeps a deleted account's username from ever being given again (see `taken`). */
  async retire(user: User): Promise<void> {
    await this.db
      .insertInto("retired_usernames")
      .values({ username: user.username, user_id: user.id, retired_at: this.now() })
      .onConflict((oc) => oc.column("username").doNothing())
      .execute();
  }

  /** Refuses (409) a name in use or retired, with what to do; every way of making a user comes here. */
  async create(input: {
    username: string;
    email?: string | null;
    role?: "admin" | "user";
    plan?: string;
  }): Promise<User> {
    if ((await this.taken(input.username)) === "retired") {
      throw new AppError(
        "CONFLICT",
        `username: '${input.username}' belonged to a deleted account and is never given again (its old links must not serve someone else); choose another`,
        { field: "username" },
      );
    }
    const now = this.now();
    const row = {
      id: newId(now),
      username: input.username,
      email: input.email ?? null,
      role: input.role ?? "user",
      plan: input.plan ?? (input.role === "admin" ? "unlimited" : "free"),
      default_max_width: null,
      default_max_height: null,
      created_at: now,
      updated_at: now,
    };
    await this.db.insertInto("users").values(row).execute();
    return (await this.byId(row.id))!;
  }

  async update(id: string, changes: Omit<UserUpdate, "id" | "created_at" | "updated_at">): Promise<User> {
    await this.db
      .updateTable("users")
      .set({ ...changes, updated_at: this.now() })
      .where("id", "=", id)
      .execute();
    return (await this.byId(id))!;
  }

  /** The admin exists from the first start on; returns whether it was created now. */
  async ensureAdmin(username: string): Promise<{ user: User; created: boolean }> {
    const existing = await this.db
      .selectFrom("users")
      .selectAll()
      .where("role", "=", "admin")
      .orderBy("created_at")
      .executeTakeFirst();
    if (existing) return { user: existing, created: false };
    try {
      return { user: await this.create({ username, role: "admin" }), created: true };
    } catch (err) {
      // Another node starting at the same moment made it first (the username is unique).
      const made = await this.db.selectFrom("users").selectAll().where("role", "=", "admin").executeTakeFirst();
      if (made) return { user: made, created: false };
      throw err;
    }
  }
}
