import type { Db } from "../../db/connection.ts";
import type { ImageUpdate } from "../../db/schema.ts";
import { AppError, notFound } from "../errors.ts";
import type { ImageRecord, Images } from "./images.ts";
import { FieldErrors, MAX_TAGS, mergeCustom, customFieldsOf } from "./fields.ts";
import { attachPaths } from "./image-rows.ts";
import { type Events, imageData } from "../webhooks/events.ts";

// The library view of a tenant's images (img.pro's media): filtered keyset listing, metadata
// edits, batch operations, namespaces, and the sweeper that removes expired items.

export interface MediaQuery {
  namespace?: string;
  tags?: string[];
  tagMode: "any" | "all";
  ids?: string[];
  limit: number;
  /** Items strictly after this id in listing order (newest first). */
  after?: string;
}

export interface MediaPatch {
  name?: string;
  date?: string | null;
  tags?: string[];
  pagePublic?: boolean;
  namespace?: string | null;
  externalId?: string | null;
  /** null values remove a field. */
  custom?: Record<string, unknown>;
}

export const BATCH_MAX_IDS = 100;
export const NAMESPACE_DELETE_MAX = 1000;

export class Media {
  constructor(
    private readonly db: Db,
    private readonly images: Images,
    /** The webhook outbox: image.updated. */
    private readonly events: Pick<Events, "emit">,
    private readonly now: () => number,
  ) {}

  /**
   * Newest first by id: ids are UUIDv7 (time-ordered), so "after this id" stays correct while
   * items are added (they sort before the cursor) or deleted (the cursor needs no row).
   */
  async list(userId: string, q: MediaQuery): Promise<{ items: ImageRecord[]; hasMore: boolean }> {
    let query = this.images.live(this.db.selectFrom("images").selectAll("images").where("images.user_id", "=", userId));
    if (q.namespace !== undefined) query = query.where("images.namespace", "=", q.namespace);
    if (q.ids) query = query.where("images.id", "in", q.ids.length ? q.ids : [""]);
    if (q.tags?.length) {
      const tags = q.tags;
      query =
        q.tagMode === "all"
          ? query.where((eb) =>
              eb(
                eb
                  .selectFrom("image_tags")
                  .select((e) => e.fn.countAll<number>().as("n"))
                  .whereRef("image_tags.image_id", "=", "images.id")
                  .where("image_tags.tag", "in", tags),
                "=",
                tags.length,
              ),
            )
          : query.where((eb) =>
              eb.exists(
                eb
                  .selectFrom("image_tags")
                  .select("image_tags.image_id")
                  .whereRef("image_tags.image_id", "=", "images.id")
                  .where("image_tags.tag", "in", tags),
              ),
            );
    }
    if (q.after !== undefined) query = query.where("images.id", "<", q.after);
    const rows = await query
      .orderBy("images.id", "desc")
      .limit(q.limit + 1)
      .execute();
    const page = rows.slice(0, q.limit);
    return { items: await this.images.attach(page), hasMore: rows.length > q.limit };
  }

  async get(userId: string, id: string): Promise<ImageRecord> {
    return this.images.get(userId, id);
  }

  async update(userId: string, id: string, patch: MediaPatch): Promise<ImageRecord> {
    const now = this.now();
    await this.db.transaction().execute(async (trx) => {
      const row = await this.images
        .live(trx.selectFrom("images").selectAll().where("id", "=", id).where("user_id", "=", userId))
        .executeTakeFirst();
      if (!row) throw notFound("Media item");
      if (patch.externalId) await this.#checkExternalId(trx as unknown as Db, userId, patch.externalId, id);
      const set: ImageUpdate = { updated_at: now };
      if (patch.name !== undefined) set.original_filename = patch.name;
      if (patch.date !== undefined) set.display_date = patch.date;
      if (patch.pagePublic !== undefined) set.page_public = patch.pagePublic ? 1 : 0;
      if (patch.namespace !== undefined) set.namespace = patch.namespace;
      if (patch.externalId !== undefined) set.external_id = patch.externalId;
      if (patch.custom && Object.keys(patch.custom).length) {
        const e = new FieldErrors();
        set.metadata = JSON.stringify(mergeCustom(customFieldsOf(row.metadata), patch.custom, e));
        e.throwIfAny();
      }
      await trx.updateTable("images").set(set).where("id", "=", id).execute();
      if (patch.tags) {
        await trx.deleteFrom("image_tags").where("image_id", "=", id).execute();
        if (patch.tags.length)
          await trx
            .insertInto("image_tags")
            .values(patch.tags.map((tag) => ({ image_id: id, tag })))
            .execute();
      }
      const changed = Object.keys(patch).filter((k) => patch[k as keyof MediaPatch] !== undefined);
      await this.#updated(trx as unknown as Db, userId, [id], changed);
    });
    return this.images.get(userId, id);
  }

  /** image.updated for each of these images, inside the transaction that changed them. */
  async #updated(trx: Db, userId: string, ids: string[], changed: string[]) {
    const rows = await trx.selectFrom("images").selectAll().where("id", "in", ids).orderBy("id").execute();
    for (const image of await attachPaths(trx, rows))
      await this.events.emit(trx, userId, "image.updated", { ...imageData(image), changed });
  }

  async #checkExternalId(db: Db, userId: string, externalId: string, exceptId: string) {
    const other = await this.images
      .live(
        db
          .selectFrom("images")
          .select("id")
          .where("user_id", "=", userId)
          .where("external_id", "=", externalId)
          .where("id", "!=", exceptId),
      )
      .executeTakeFirst();
    if (other)
      throw new AppError("CONFLICT", `Another item uses external_id '${externalId}'`, {
        field: "external_id",
        reason: "external_id_duplicate",
      });
  }

  /** Adds, removes or sets tags on up to 100 of the tenant's live items; returns how many it found. */
  async batchTags(userId: string, ids: string[], tags: string[], mode: "add" | "remove" | "set"): Promise<number> {
    const e = new FieldErrors();
    const updated = await this.db.transaction().execute(async (trx) => {
      const rows = await this.images
        .live(trx.selectFrom("images").select("id").where("user_id", "=", userId).where("id", "in", ids))
        .execute();
      const found = rows.map((r) => r.id);
      if (found.length === 0) return 0;
      if (mode === "remove") {
        if (tags.length)
          await trx.deleteFrom("image_tags").where("image_id", "in", found).where("tag", "in", tags).execute();
      } else {
        if (mode === "set") await trx.deleteFrom("image_tags").where("image_id", "in", found).execute();
        const values = found.flatMap((image_id) => tags.map((tag) => ({ image_id, tag })));
        if (values.length)
          await trx
            .insertInto("image_tags")
            .values(values)
            .onConflict((oc) => oc.doNothing())
            .execute();
        // The tag limit holds per item after adding, too.
        const over = await trx
          .selectFrom("image_tags")
          .select("image_id")
          .where("image_id", "in", found)
          .groupBy("image_id")
          .having((eb) => eb.fn.countAll(), ">", MAX_TAGS)
          .executeTakeFirst();
        if (over) {
          e.add("tags", `item ${over.image_id} would have more than ${MAX_TAGS} tags`);
          e.throwIfAny(); // rolls the transaction back
        }
      }
      await trx.updateTable("images").set({ updated_at: this.now() }).where("id", "in", found).execute();
      await this.#updated(trx as unknown as Db, userId, found, ["tags"]);
      return found.length;
    });
    return updated;
  }

  /** Deletes by ids, or every live item of a namespace up to `NAMESPACE_DELETE_MAX` per call. */
  async batchDelete(userId: string, by: { ids: string[] } | { namespace: string }): Promise<number> {
    let ids: string[];
    if ("ids" in by) ids = by.ids;
    else {
      const rows = await this.images
        .live(
          this.db.selectFrom("images").select("id").where("user_id", "=", userId).where("namespace", "=", by.namespace),
        )
        .orderBy("id")
        .limit(NAMESPACE_DELETE_MAX)
        .execute();
      ids = rows.map((r) => r.id);
    }
    const live = await this.images.many(userId, ids);
    return (
      await this.images.delete(
        userId,
        live.map((i) => i.id),
      )
    ).length;
  }

  /** Namespaces of live items, largest first. */
  async namespaces(userId: string, offset: number, limit: number) {
    const rows = await this.images
      .live(this.db.selectFrom("images").where("user_id", "=", userId).where("namespace", "is not", null))
      .select((eb) => ["namespace", eb.fn.countAll<number>().as("count"), eb.fn.sum<number>("size").as("bytes")])
      .groupBy("namespace")
      .orderBy("count", "desc")
      .orderBy("namespace")
      .limit(limit + 1)
      .offset(offset)
      .execute();
    return {
      data: rows
        .slice(0, limit)
        .map((r) => ({ namespace: r.namespace!, count: Number(r.count), storage_bytes: Number(r.bytes) })),
      nextOffset: rows.length > limit ? offset + limit : null,
    };
  }

  /**
   * Removes expired items: rows, paths, tags, unreferenced blobs and their variants. Each batch
   * is one transaction (Images.delete), and blobs moved aside are purged or restored by the
   * store's start-up sweep after a crash, so running it again is always safe.
   */
  async sweepExpired(batch = 200): Promise<number> {
    let total = 0;
    for (;;) {
      const rows = await this.images.expired(batch);
      if (rows.length === 0) return total;
      const byUser = new Map<string, string[]>();
      for (const r of rows) byUser.set(r.user_id, [...(byUser.get(r.user_id) ?? []), r.id]);
      for (const [userId, ids] of byUser) total += (await this.images.delete(userId, ids)).length;
      if (rows.length < batch) return total;
    }
  }
}
