import { type Kysely, sql } from "kysely";
import { type Layout, probeLayout } from "../../../codecs/probe/index.ts";
import type { InputFormat } from "../../../codecs/types.ts";
import type { Db } from "../../db/connection.ts";
import type { Database, Image } from "../../db/schema.ts";
import { notFound } from "../errors.ts";
import { attachPaths, escapeLike, type ImageRecord, like, live, type Visibility, withPaths } from "./image-rows.ts";
import { stemOf } from "./paths.ts";
import type { BlobStore } from "../../store/types.ts";
import type { Removal } from "./removal.ts";
import { type Events, imageData } from "../webhooks/events.ts";

export type { ImageRecord, Visibility } from "./image-rows.ts";

// The library: a tenant's images as routes read and edit them. Images arrive through Ingest
// (domain/ingest/) and leave through Removal (removal.ts).

export interface ImagesDeps {
  db: Db;
  removal: Removal;
  /** Read for what an image's structure says (frames, alpha), for images stored before they were kept. */
  blobs: Pick<BlobStore, "read">;
  /** A tenant's images changed in a way that changes what a delivery URL answers. */
  onChanged: (userId: string) => void;
  now: () => number;
  /** The webhook outbox: image.visibility_changed. */
  events: Pick<Events, "emit">;
}

export type ListSort = "newest" | "oldest" | "name" | "size";

export class Images {
  constructor(private readonly d: ImagesDeps) {}

  /** A live image with this external id, if the tenant has one. */
  async byExternalId(userId: string, externalId: string): Promise<ImageRecord | undefined> {
    const image = await this.#live(
      this.d.db.selectFrom("images").selectAll().where("user_id", "=", userId).where("external_id", "=", externalId),
    ).executeTakeFirst();
    return image && withPaths(this.d.db, image);
  }

  /** A live image by id whoever owns it (public viewer pages, public media). */
  async byId(id: string): Promise<ImageRecord | undefined> {
    const image = await this.#live(this.d.db.selectFrom("images").selectAll().where("id", "=", id)).executeTakeFirst();
    return image && withPaths(this.d.db, image);
  }

  /** Live images of a tenant by id, in no particular order; unknown ids are left out. */
  async many(userId: string, ids: string[]): Promise<ImageRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.#live(
      this.d.db.selectFrom("images").selectAll().where("user_id", "=", userId).where("id", "in", ids),
    ).execute();
    return attachPaths(this.d.db, rows);
  }

  /** Expired images still in the database, oldest first: the sweeper's work list. */
  expired(limit: number) {
    return this.d.db
      .selectFrom("images")
      .select(["id", "user_id"])
      .where("expires_at", "is not", null)
      .where("expires_at", "<=", this.d.now())
      .orderBy("expires_at")
      .limit(limit)
      .execute();
  }

  /** Tells delivery that a tenant's images changed outside this class (library edits). */
  changed(userId: string) {
    this.d.onChanged(userId);
  }

  /** Live-image filter for queries built elsewhere in the domain. */
  live<Q extends { where: (...a: any[]) => Q }>(q: Q): Q {
    return this.#live(q);
  }

  attach(rows: Image[], db: Kysely<Database> = this.d.db): Promise<ImageRecord[]> {
    return attachPaths(db, rows);
  }

  /**
   * Frames and alpha, as stored at ingest. An image stored before they were kept has them
   * read from its file's structure once (the backfill at start does the rest) and stored.
   */
  async layout(image: Image): Promise<Layout> {
    if (image.frames !== null && image.has_alpha !== null)
      return { frames: image.frames, hasAlpha: image.has_alpha === 1 };
    return this.fillLayout(image);
  }

  /** Reads an image's frames and alpha from its original's structure (no decoding) and stores them. */
  async fillLayout(image: Pick<Image, "id" | "blob_hash" | "format">): Promise<Layout> {
    const layout = probeLayout(await this.d.blobs.read(image.blob_hash), image.format as InputFormat);
    await this.d.db
      .updateTable("images")
      .set({ frames: layout.frames, has_alpha: layout.hasAlpha ? 1 : 0 })
      .where("id", "=", image.id)
      .execute();
    return layout;
  }

  /** Some images whose frames and alpha are not stored yet (stored before they were kept). */
  withoutLayout(limit: number, skip: string[]): Promise<Pick<Image, "id" | "blob_hash" | "format">[]> {
    let q = this.d.db.selectFrom("images").select(["id", "blob_hash", "format"]).where("frames", "is", null);
    if (skip.length) q = q.where("id", "not in", skip);
    return q.orderBy("id").limit(limit).execute();
  }

  async get(userId: string, id: string): Promise<ImageRecord> {
    const image = await this.#live(
      this.d.db.selectFrom("images").selectAll().where("id", "=", id).where("user_id", "=", userId),
    ).executeTakeFirst();
    if (!image) throw notFound("Image");
    return withPaths(this.d.db, image);
  }

  /** Resolves a delivery path: exact alias first, else the same name with another extension. */
  async resolvePath(userId: string, requested: string): Promise<{ image: Image; path: string } | undefined> {
    const row = await this.#live(
      this.d.db
        .selectFrom("image_paths")
        .innerJoin("images", "images.id", "image_paths.image_id")
        .selectAll("images")
        .select("image_paths.path as alias")
        .where("image_paths.user_id", "=", userId)
        .where("image_paths.stem", "=", stemOf(requested)),
    ).executeTakeFirst();
    if (!row) return undefined;
    const { alias, ...image } = row;
    return { image, path: alias };
  }

  async list(
    userId: string,
    q: { limit: number; offset: number; sort: ListSort; path?: string; namespace?: string; tag?: string },
  ) {
    const db = this.d.db;
    const folder = q.path?.replace(/\/+$/, "");
    let base = this.#live(db.selectFrom("images").where("images.user_id", "=", userId));
    if (q.namespace !== undefined) base = base.where("images.namespace", "=", q.namespace);
    if (q.tag !== undefined) {
      const tag = q.tag;
      base = base.where((eb) =>
        eb.exists(
          eb
            .selectFrom("image_tags")
            .select("image_tags.image_id")
            .whereRef("image_tags.image_id", "=", "images.id")
            .where("image_tags.tag", "=", tag),
        ),
      );
    }
    if (folder) {
      base = base.where((eb) =>
        eb.exists(
          eb
            .selectFrom("image_paths")
            .select("image_paths.image_id")
            .whereRef("image_paths.image_id", "=", "images.id")
            .where(like("image_paths.path", `${escapeLike(folder)}/%`))
            .where(sql<boolean>`not ${like("image_paths.path", `${escapeLike(folder)}/%/%`)}`),
        ),
      );
    }
    const { total } = await base.select((eb) => eb.fn.countAll<number>().as("total")).executeTakeFirstOrThrow();
    const order = {
      newest: [
        ["created_at", "desc"],
        ["id", "desc"],
      ],
      oldest: [
        ["created_at", "asc"],
        ["id", "asc"],
      ],
      name: [
        ["sanitized_filename", "asc"],
        ["id", "asc"],
      ],
      size: [
        ["size", "desc"],
        ["id", "asc"],
      ],
    } as const;
    let query = base.selectAll("images");
    for (const [col, dir] of order[q.sort]) query = query.orderBy(`images.${col}`, dir);
    const rows = await query.limit(q.limit).offset(q.offset).execute();
    const images = await attachPaths(this.d.db, rows);
    return { images, total: Number(total), folders: await this.#folders(userId, folder) };
  }

  /** Immediate subfolders of `folder` with the number of images anywhere below each. */
  async #folders(userId: string, folder: string | undefined) {
    const prefix = folder ? `${folder}/` : "";
    const rows = await this.#live(
      this.d.db
        .selectFrom("image_paths")
        .innerJoin("images", "images.id", "image_paths.image_id")
        .select(["image_paths.path", "image_paths.image_id"])
        .where("image_paths.user_id", "=", userId)
        .where(like("image_paths.path", `${escapeLike(prefix)}%/%`)),
    ).execute();
    const byFolder = new Map<string, Set<string>>();
    for (const r of rows) {
      const name = r.path.slice(prefix.length).split("/")[0];
      if (!byFolder.has(name)) byFolder.set(name, new Set());
      byFolder.get(name)!.add(r.image_id);
    }
    return [...byFolder].sort(([a], [b]) => a.localeCompare(b)).map(([name, ids]) => ({ name, image_count: ids.size }));
  }

  async search(userId: string, text: string, limit: number) {
    const pattern = `%${escapeLike(text.toLowerCase())}%`;
    const matches = this.#live(
      this.d.db
        .selectFrom("images")
        .where("images.user_id", "=", userId)
        .where((eb) =>
          eb.or([
            like("images.original_filename", pattern, true),
            eb.exists(
              eb
                .selectFrom("image_paths")
                .select("image_paths.image_id")
                .whereRef("image_paths.image_id", "=", "images.id")
                .where(like("image_paths.path", pattern, true)),
            ),
          ]),
        ),
    );
    const { total } = await matches.select((eb) => eb.fn.countAll<number>().as("total")).executeTakeFirstOrThrow();
    const rows = await matches
      .selectAll("images")
      .orderBy("images.created_at", "desc")
      .orderBy("images.id", "desc")
      .limit(limit)
      .execute();
    return { images: await attachPaths(this.d.db, rows), total: Number(total) };
  }

  async setVisibility(userId: string, id: string, visibility: Visibility): Promise<ImageRecord> {
    await this.d.db.transaction().execute(async (trx) => {
      const before = await trx
        .selectFrom("images")
        .selectAll()
        .where("id", "=", id)
        .where("user_id", "=", userId)
        .executeTakeFirst();
      if (!before) throw notFound("Image");
      await trx.updateTable("images").set({ visibility, updated_at: this.d.now() }).where("id", "=", id).execute();
      // Asking for the visibility it has changes nothing, and tells of nothing.
      if (before.visibility === visibility) return;
      const [image] = await attachPaths(trx, [{ ...before, visibility }]);
      await this.d.events.emit(trx, userId, "image.visibility_changed", {
        ...imageData(image),
        previous_visibility: before.visibility,
      });
    });
    this.d.onChanged(userId);
    return this.get(userId, id);
  }

  /** Stores an image's ThumbHash (made after the upload, for images from before placeholders). */
  async setThumbhash(id: string, thumbhash: string) {
    await this.d.db.updateTable("images").set({ thumbhash }).where("id", "=", id).execute();
  }

  /** Some images that have no ThumbHash yet (stored before placeholders existed). */
  withoutThumbhash(limit: number): Promise<Pick<Image, "id" | "blob_hash">[]> {
    return this.#live(this.d.db.selectFrom("images").select(["id", "blob_hash"]).where("thumbhash", "is", null))
      .limit(limit)
      .execute();
  }

  async recordSignedUrl(id: string, url: string, expiresAt: number) {
    await this.d.db
      .updateTable("images")
      .set({ signed_url: url, signed_url_expires_at: expiresAt })
      .where("id", "=", id)
      .execute();
  }

  /** Removal.delete, for callers that hold the library. */
  delete(userId: string, ids: string[]): Promise<ImageRecord[]> {
    return this.d.removal.delete(userId, ids);
  }

  /** Removal.deletePath, for callers that hold the library. */
  deletePath(userId: string, path: string) {
    return this.d.removal.deletePath(userId, path);
  }

  #live<Q extends { where: (...a: any[]) => Q }>(q: Q): Q {
    return live(q, this.d.now());
  }
}
