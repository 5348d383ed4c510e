import type { Db } from "../../db/connection.ts";
import type { Preset } from "../../db/schema.ts";
import { AppError, notFound } from "../errors.ts";
import { randomAlnum } from "../ids.ts";

/** Named transformation parameter sets of a tenant (`?p:name`). Params are validated by the caller. */
export class Presets {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  async list(userId: string): Promise<Preset[]> {
    await this.flush();
    return this.db.selectFrom("presets").selectAll().where("user_id", "=", userId).orderBy("name").execute();
  }

  async byIdOrName(userId: string, idOrName: string): Promise<Preset> {
    await this.flush();
    const p = await this.db
      .selectFrom("presets")
      .selectAll()
      .where("user_id", "=", userId)
      .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
      .orderBy("id")
      .executeTakeFirst();
    if (!p) throw notFound("Preset");
    return p;
  }

  byName(userId: string, name: string): Promise<Preset | undefined> {
    return this.db
      .selectFrom("presets")
      .selectAll()
      .where("user_id", "=", userId)
      .where("name", "=", name)
      .executeTakeFirst();
  }

  async create(
    userId: string,
    input: { name: string; description?: string | null; params: Record<string, unknown> },
  ): Promise<Preset> {
    const now = this.now();
    const id = `preset_${randomAlnum(16)}`;
    await this.#unique(userId, input.name);
    await this.db
      .insertInto("presets")
      .values({
        id,
        user_id: userId,
        name: input.name,
        description: input.description ?? null,
        params: JSON.stringify(input.params),
        created_at: now,
        updated_at: now,
      })
      .execute()
      .catch((err) => {
        // Two creations racing past the check above: the unique constraint decides.
        if (/unique/i.test(String(err?.message)))
          throw new AppError("CONFLICT", `A preset named '${input.name}' already exists`);
        throw err;
      });
    return this.byIdOrName(userId, id);
  }

  async update(
    userId: string,
    id: string,
    input: { name?: string; description?: string | null; params?: Record<string, unknown> },
  ): Promise<Preset> {
    const current = await this.byIdOrName(userId, id);
    if (input.name !== undefined && input.name !== current.name) await this.#unique(userId, input.name);
    await this.db
      .updateTable("presets")
      .set({
        ...(input.name !== undefined && { name: input.name }),
        ...(input.description !== undefined && { description: input.description }),
        ...(input.params !== undefined && { params: JSON.stringify(input.params) }),
        updated_at: this.now(),
      })
      .where("id", "=", current.id)
      .execute();
    return this.byIdOrName(userId, current.id);
  }

  async delete(userId: string, idOrName: string) {
    const p = await this.byIdOrName(userId, idOrName);
    await this.db.deleteFrom("presets").where("id", "=", p.id).execute();
  }

  #pending = new Map<string, number>();
  #timer: ReturnType<typeof setInterval> | null = null;

  /** Counted on every delivery that names the preset: buffered, written within a second. */
  countUseLater(id: string) {
    this.#pending.set(id, (this.#pending.get(id) ?? 0) + 1);
    this.#timer ??= setInterval(() => void this.flush(), 1000);
  }

  async flush() {
    const batch = this.#pending;
    this.#pending = new Map();
    for (const [id, n] of batch) {
      await this.db
        .updateTable("presets")
        .set((eb) => ({ usage_count: eb("usage_count", "+", n) }))
        .where("id", "=", id)
        .execute();
    }
  }

  async close() {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.flush();
  }

  async #unique(userId: string, name: string) {
    if (await this.byName(userId, name)) throw new AppError("CONFLICT", `A preset named '${name}' already exists`);
  }
}
