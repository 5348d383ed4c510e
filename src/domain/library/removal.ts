import type { Kysely } from "kysely";
import { type Db, lockNames } from "../../db/connection.ts";
import type { Database } from "../../db/schema.ts";
import type { BlobStore } from "../../store/types.ts";
import { notFound } from "../errors.ts";
import { attachPaths, type ImageRecord } from "./image-rows.ts";
import { dropUnusedBlob } from "./unused-blob.ts";
import { type Events, imageData } from "../webhooks/events.ts";

// Removing images: rows, paths and tags in one transaction, which holds only database work (a
// slow store must not hold the locks other uploads and deletions wait for). After the commit, a
// blob no image uses any more is moved to the store's trash and the database asked again: an
// upload of the same content that added its row meanwhile gets it back, else it is purged. A
// store that fails here, or a crash, leaves a blob without a row, which the sweep removes.

export interface RemovalDeps {
  db: Db;
  blobs: BlobStore;
  /** A tenant's images changed in a way that changes what a delivery URL answers. */
  onChanged: (userId: string) => void;
  /** Called after the rows of deleted images are gone, to drop their cached variants. */
  onBlobsReleased: (hashes: string[]) => Promise<void>;
  /** The webhook outbox: image.deleted, and image.updated when one of several paths goes. */
  events: Pick<Events, "emit">;
  /** Images were deleted (before their variants go): a CDN in front is told their URLs. */
  onDeleted?: (images: ImageRecord[]) => Promise<void>;
}

export class Removal {
  constructor(private readonly d: RemovalDeps) {}

  /** Deletes images (rows, paths, tags) and any blob no image uses any more. */
  async delete(userId: string, ids: string[]): Promise<ImageRecord[]> {
    if (ids.length === 0) return [];
    const released: string[] = [];
    const deleted = await this.d.db.transaction().execute(async (trx) => {
      await lockNames(trx, [`tenant:${userId}`]);
      const rows = await trx
        .selectFrom("images")
        .selectAll()
        .where("user_id", "=", userId)
        .where("id", "in", ids)
        .execute();
      if (rows.length === 0) return [];
      const withPaths = await attachPaths(trx, rows);
      await trx
        .deleteFrom("images")
        .where(
          "id",
          "in",
          rows.map((r) => r.id),
        )
        .execute();
      const hashes = [...new Set(rows.map((r) => r.blob_hash))];
      // An upload of the same content on another node waits, or is seen.
      await lockNames(
        trx,
        hashes.map((h) => `blob:${h}`),
      );
      await releaseBlobs(trx, hashes, released);
      for (const image of withPaths) await this.d.events.emit(trx, userId, "image.deleted", imageData(image));
      return withPaths;
    });
    this.d.onChanged(userId);
    await this.d.onDeleted?.(deleted).catch(() => {});
    if (released.length) {
      await Promise.all(released.map((h) => dropUnusedBlob(this.d.db, this.d.blobs, h)));
      await this.d.onBlobsReleased(released);
    }
    return deleted;
  }

  /** Removes one alias; the image goes with its last one. */
  async deletePath(userId: string, path: string): Promise<{ remaining: string[]; imageDeleted: boolean }> {
    const row = await this.d.db
      .selectFrom("image_paths")
      .select(["image_id", "path"])
      .where("user_id", "=", userId)
      .where("path", "=", path)
      .executeTakeFirst();
    if (!row) throw notFound("Path");
    const others = await this.d.db
      .selectFrom("image_paths")
      .select("path")
      .where("image_id", "=", row.image_id)
      .where("path", "!=", path)
      .execute();
    if (others.length === 0) {
      await this.delete(userId, [row.image_id]);
      return { remaining: [], imageDeleted: true };
    }
    await this.d.db.transaction().execute(async (trx) => {
      await trx.deleteFrom("image_paths").where("user_id", "=", userId).where("path", "=", path).execute();
      const image = await trx.selectFrom("images").selectAll().where("id", "=", row.image_id).executeTakeFirst();
      if (image) {
        const [record] = await attachPaths(trx, [image]);
        await this.d.events.emit(trx, userId, "image.updated", {
          ...imageData(record),
          change: "path_removed",
          removed_path: path,
        });
      }
    });
    this.d.onChanged(userId);
    return { remaining: others.map((o) => o.path).sort(), imageDeleted: false };
  }
}

/** Within a transaction: drops blob rows no image references (their files go after the commit). */
async function releaseBlobs(trx: Kysely<Database>, hashes: string[], released: string[]): Promise<void> {
  for (const hash of hashes) {
    const used = await trx.selectFrom("images").select("id").where("blob_hash", "=", hash).limit(1).executeTakeFirst();
    if (used) continue;
    await trx.deleteFrom("blobs").where("hash", "=", hash).execute();
    released.push(hash);
  }
}
