import type { Db } from "../../db/connection.ts";
import type { User, UserUpdate } from "../../db/schema.ts";
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

  async create(input: {
    username: string;
    email?: string | null;
    role?: "admin" | "user";
    plan?: string;
  }): Promise<User> {
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
