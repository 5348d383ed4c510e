import type { User } from "../../db/schema.ts";
import type { Db } from "../../db/connection.ts";
import { ANONYMOUS_USERNAME, type Accounts } from "../accounts/accounts.ts";
import { AppError, notFound } from "../errors.ts";
import { randomAlnum } from "../ids.ts";
import type { Users } from "../accounts/users.ts";

// Imgwire's environments are imgd's tenants: an admin key sees and makes them all; any other
// key sees its own only.

export class Environments {
  constructor(private readonly d: { db: Db; users: Users; accounts: Accounts }) {}

  async environments(caller: User, page: { limit: number; offset: number }) {
    let q = this.d.db.selectFrom("users").where("username", "!=", ANONYMOUS_USERNAME);
    if (caller.role !== "admin") q = q.where("id", "=", caller.id);
    const { n } = await q.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    const rows = await q
      .selectAll()
      .orderBy("created_at")
      .orderBy("id")
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    return { rows, total: Number(n) };
  }

  async environment(caller: User, id: string): Promise<User> {
    const u = await this.d.users.byId(id);
    if (!u) throw notFound("Environment");
    if (caller.role !== "admin" && u.id !== caller.id)
      throw new AppError("FORBIDDEN", "This key may not act on that environment");
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
}
