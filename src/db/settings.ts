import type { Db } from "./connection.ts";

/**
 * Instance-wide settings kept in the database, so every node reads the same ones. `ensure`
 * writes a value only where none is yet and returns the one that is there: two nodes starting
 * at once both end up with the first writer's.
 */
export class Settings {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  async get(name: string): Promise<string | undefined> {
    const row = await this.db.selectFrom("settings").select("value").where("name", "=", name).executeTakeFirst();
    return row?.value;
  }

  async ensure(name: string, value: () => Promise<string> | string): Promise<string> {
    const existing = await this.get(name);
    if (existing !== undefined) return existing;
    await this.db
      .insertInto("settings")
      .values({ name, value: await value(), updated_at: this.now() })
      .onConflict((oc) => oc.column("name").doNothing())
      .execute();
    return (await this.get(name))!;
  }
}
