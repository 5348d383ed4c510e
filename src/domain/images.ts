import { type Kysely, sql } from "kysely";
import { checkComplete, type Layout, probe, probeLayout, SUPPORTED_INPUTS, unsupportedFormat } from "../../codecs/probe.ts";
import { readFile } from "node:fs/promises";
import type { InputFormat, InspectResult, ProbeResult } from "../../codecs/types.ts";
import type { Db } from "../db/connection.ts";
import type { Database, Image } from "../db/schema.ts";
import { BlobTooLargeError, type BlobStore, type StagedBlob } from "../store/blobs.ts";
import { AppError, notFound } from "./errors.ts";
import { newId } from "./ids.ts";
import { stemOf, uploadPath } from "./paths.ts";

export type Visibility = "public" | "private";

export interface ImageRecord extends Image {
  paths: string[];
  tags: string[];
}

export interface UploadInput {
  filename: string;
  /** A folder or a full path; see `uploadPath`. */
  path?: string;
  visibility?: Visibility;
  /** Already normalised (see media-fields.ts). */
  tags?: string[];
  namespace?: string | null;
  /** Custom fields, shown back as sent. */
  metadata?: Record<string, unknown>;
  expiresAt?: number | null;
  /** Unique per tenant among live images: a match returns that image instead (`deduplicated`). */
  externalId?: string | null;
  sourceUrl?: string | null;
  displayDate?: string | null;
  /** Whether the viewer page is shown (img.pro's `public`); delivery follows `visibility`. */
  pagePublic?: boolean;
  /**
   * Store as an item of its own even when the tenant has these bytes already (img.pro: every
   * upload is a new media item), under the alias `{id}.{ext}`. The blob is still shared.
   */
  separate?: boolean;
  /** The id the image gets, when the caller promised one before the bytes arrived (Imgwire). */
  id?: string;
}

export interface Stored {
  image: ImageRecord;
  isNew: boolean;
  /** An image with the same external id was returned instead of storing this one. */
  deduplicated?: boolean;
}

export interface ImagesDeps {
  db: Db;
  blobs: BlobStore;
  /** Decodes the whole image once: proves it is valid and yields its dominant colour. */
  inspect: (bytes: Uint8Array) => Promise<InspectResult>;
  /**
   * Counts a new image towards the tenant's plan inside the transaction that stores it, before
   * its blob is committed: a refusal (it throws) leaves neither row nor file.
   */
  countUpload: (trx: Kysely<Database>, userId: string, bytes: number) => Promise<void>;
  /** A tenant's images changed in a way that changes what a delivery URL answers. */
  onChanged: (userId: string) => void;
  /** Called after the rows of deleted images are gone, to drop their cached variants. */
  onBlobsReleased: (hashes: string[]) => Promise<void>;
  limits: { maxUploadBytes: number; maxSourcePixels: number };
  now: () => number;
}

/** Bytes received and checked from their header, not yet stored. */
export interface Received {
  staged: StagedBlob;
  header: ProbeResult;
}

export type ListSort = "newest" | "oldest" | "name" | "size";

export class Images {
  constructor(private readonly d: ImagesDeps) {}

  /** Upload in one call: `receive`, then `store`. */
  async upload(userId: string, input: UploadInput & { body: AsyncIterable<Uint8Array> }) {
    return this.store(userId, await this.receive(input.body), input);
  }

  /**
   * Streams the bytes to a temp file while hashing and checks the header (format, pixel count,
   * not cut off) without decoding. A refusal leaves nothing behind.
   */
  async receive(body: AsyncIterable<Uint8Array>, maxBytes = this.d.limits.maxUploadBytes): Promise<Received> {
    const { blobs, limits } = this.d;
    let staged: StagedBlob;
    try {
      staged = await blobs.stage(body, maxBytes);
    } catch (err) {
      if (err instanceof BlobTooLargeError) {
        throw new AppError("PAYLOAD_TOO_LARGE", `File is larger than the upload limit of ${maxBytes} bytes`);
      }
      throw err;
    }
    try {
      if (staged.size === 0) throw new AppError("INVALID_FILE", "File is empty");
      const header = probe(staged.head);
      if (!header) throw new AppError("INVALID_FILE", unsupportedFormat(staged.head) ?? `File is not a supported image (${SUPPORTED_INPUTS})`);
      if (header.width * header.height > limits.maxSourcePixels) {
        throw new AppError("INVALID_FILE", `Image is ${header.width}×${header.height}, over the limit of ${limits.maxSourcePixels} pixels`);
      }
      if (!checkComplete(staged.head, staged.tail, header.format)) {
        throw new AppError("INVALID_FILE", `File is a truncated ${header.format.toUpperCase()}: its end is missing`);
      }
      return { staged, header };
    } catch (err) {
      await blobs.discard(staged);
      throw err;
    }
  }

  discard(received: Received) {
    return this.d.blobs.discard(received.staged);
  }

  /** Decodes the image once (proof it is whole), then stores blob and rows; always consumes `received`. */
  async store(userId: string, received: Received, input: UploadInput): Promise<Stored> {
    const { staged, header } = received;
    try {
      const inspected = await this.d.inspect(new Uint8Array(await readFile(staged.tempPath)));
      return await this.#insert(userId, staged, header, inspected, input);
    } finally {
      await this.d.blobs.discard(staged);
    }
  }

  #insert(userId: string, staged: StagedBlob, header: ProbeResult, inspected: InspectResult, input: UploadInput): Promise<Stored> {
    const now = this.d.now();
    const wanted = uploadPath(input.path, input.filename, header.format);
    return this.d.db.transaction().execute(async (trx): Promise<Stored> => {
      if (input.externalId) {
        // Checked again here, inside the write transaction: two uploads racing with one
        // external id end with one image.
        const same = await this.#live(
          trx.selectFrom("images").selectAll().where("user_id", "=", userId).where("external_id", "=", input.externalId),
        ).executeTakeFirst();
        if (same) return { image: await this.#withPaths(trx, same), isNew: false, deduplicated: true };
      }
      const existing = input.separate ? undefined : await trx
        .selectFrom("images")
        .selectAll()
        .where("user_id", "=", userId)
        .where("blob_hash", "=", staged.hash)
        .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]))
        .orderBy("created_at")
        .executeTakeFirst();
      const id = input.id ?? newId(now);
      const path = input.separate
        ? { path: `${id}.${header.format}`, free: true }
        : await claimPath(trx, userId, wanted.path, existing?.id, wanted.explicit);
      if (existing) {
        if (path.free) await insertPath(trx, userId, path.path, existing.id, now);
        return { image: await this.#withPaths(trx, existing), isNew: false };
      }
      await this.d.countUpload(trx, userId, staged.size);
      await trx
        .insertInto("blobs")
        .values({
          hash: staged.hash,
          size: staged.size,
          format: header.format,
          mime: header.mime,
          width: inspected.width,
          height: inspected.height,
          created_at: now,
        })
        .onConflict((oc) => oc.column("hash").doNothing())
        .execute();
      // Inside the transaction: a concurrent delete of the same content cannot trash the file
      // between our check and our row.
      await this.d.blobs.commit(staged);
      await trx
        .insertInto("images")
        .values({
          id,
          user_id: userId,
          blob_hash: staged.hash,
          original_filename: input.filename.slice(0, 255) || "image",
          sanitized_filename: path.path.slice(path.path.lastIndexOf("/") + 1),
          format: header.format,
          mime_type: header.mime,
          size: staged.size,
          width: inspected.width,
          height: inspected.height,
          visibility: input.visibility ?? "public",
          dominant_color: inspected.dominantColor,
          namespace: input.namespace ?? null,
          metadata: JSON.stringify(input.metadata ?? {}),
          external_id: input.externalId ?? null,
          source_url: input.sourceUrl ?? null,
          expires_at: input.expiresAt ?? null,
          page_public: input.pagePublic === false ? 0 : 1,
          display_date: input.displayDate ?? null,
          signed_url: null,
          signed_url_expires_at: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
      await insertPath(trx, userId, path.path, id, now);
      const tags = [...new Set(input.tags ?? [])];
      if (tags.length) await trx.insertInto("image_tags").values(tags.map((tag) => ({ image_id: id, tag }))).execute();
      const image = await trx.selectFrom("images").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
      return { image: { ...image, paths: [path.path], tags: tags.sort() }, isNew: true };
    });
  }

  /** A live image with this external id, if the tenant has one. */
  async byExternalId(userId: string, externalId: string): Promise<ImageRecord | undefined> {
    const image = await this.#live(
      this.d.db.selectFrom("images").selectAll().where("user_id", "=", userId).where("external_id", "=", externalId),
    ).executeTakeFirst();
    return image && this.#withPaths(this.d.db, image);
  }

  /** A live image by id whoever owns it (public viewer pages, public media). */
  async byId(id: string): Promise<ImageRecord | undefined> {
    const image = await this.#live(this.d.db.selectFrom("images").selectAll().where("id", "=", id)).executeTakeFirst();
    return image && this.#withPaths(this.d.db, image);
  }

  /** Live images of a tenant by id, in no particular order; unknown ids are left out. */
  async many(userId: string, ids: string[]): Promise<ImageRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.#live(this.d.db.selectFrom("images").selectAll().where("user_id", "=", userId).where("id", "in", ids)).execute();
    return this.#attachPaths(rows);
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
    return this.#attachPaths(rows, db);
  }

  async get(userId: string, id: string): Promise<ImageRecord> {
    const image = await this.#live(this.d.db.selectFrom("images").selectAll().where("id", "=", id).where("user_id", "=", userId)).executeTakeFirst();
    if (!image) throw notFound("Image");
    return this.#withPaths(this.d.db, image);
  }

  /** Frames and alpha of the stored file, read from its structure (no decoding). */
  async layout(image: Image): Promise<Layout> {
    return probeLayout(new Uint8Array(await this.d.blobs.read(image.blob_hash)), image.format as InputFormat);
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

  async list(userId: string, q: { limit: number; offset: number; sort: ListSort; path?: string; namespace?: string; tag?: string }) {
    const db = this.d.db;
    const folder = q.path?.replace(/\/+$/, "");
    let base = this.#live(db.selectFrom("images").where("images.user_id", "=", userId));
    if (q.namespace !== undefined) base = base.where("images.namespace", "=", q.namespace);
    if (q.tag !== undefined) {
      const tag = q.tag;
      base = base.where((eb) =>
        eb.exists(eb.selectFrom("image_tags").select("image_tags.image_id").whereRef("image_tags.image_id", "=", "images.id").where("image_tags.tag", "=", tag)),
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
      newest: [["created_at", "desc"], ["id", "desc"]],
      oldest: [["created_at", "asc"], ["id", "asc"]],
      name: [["sanitized_filename", "asc"], ["id", "asc"]],
      size: [["size", "desc"], ["id", "asc"]],
    } as const;
    let query = base.selectAll("images");
    for (const [col, dir] of order[q.sort]) query = query.orderBy(`images.${col}`, dir);
    const rows = await query.limit(q.limit).offset(q.offset).execute();
    const images = await this.#attachPaths(rows);
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
    const rows = await matches.selectAll("images").orderBy("images.created_at", "desc").orderBy("images.id", "desc").limit(limit).execute();
    return { images: await this.#attachPaths(rows), total: Number(total) };
  }

  async setVisibility(userId: string, id: string, visibility: Visibility): Promise<ImageRecord> {
    const r = await this.d.db
      .updateTable("images")
      .set({ visibility, updated_at: this.d.now() })
      .where("id", "=", id)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    if (r.numUpdatedRows === 0n) throw notFound("Image");
    this.d.onChanged(userId);
    return this.get(userId, id);
  }

  async recordSignedUrl(id: string, url: string, expiresAt: number) {
    await this.d.db.updateTable("images").set({ signed_url: url, signed_url_expires_at: expiresAt }).where("id", "=", id).execute();
  }

  /** Deletes images (rows, paths, tags) and any blob no image uses any more. */
  async delete(userId: string, ids: string[]): Promise<ImageRecord[]> {
    if (ids.length === 0) return [];
    const released: string[] = [];
    try {
      const deleted = await this.d.db.transaction().execute(async (trx) => {
        const rows = await trx.selectFrom("images").selectAll().where("user_id", "=", userId).where("id", "in", ids).execute();
        if (rows.length === 0) return [];
        const withPaths = await this.#attachPaths(rows, trx);
        await trx.deleteFrom("images").where("id", "in", rows.map((r) => r.id)).execute();
        await releaseBlobs(trx, this.d.blobs, [...new Set(rows.map((r) => r.blob_hash))], released);
        return withPaths;
      });
      this.d.onChanged(userId);
      await this.#afterRelease(released);
      return deleted;
    } catch (err) {
      // The rows are back (rolled back): so must be their files.
      await Promise.all(released.map((h) => this.d.blobs.restore(h)));
      throw err;
    }
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
    const others = await this.d.db.selectFrom("image_paths").select("path").where("image_id", "=", row.image_id).where("path", "!=", path).execute();
    if (others.length === 0) {
      await this.delete(userId, [row.image_id]);
      return { remaining: [], imageDeleted: true };
    }
    await this.d.db.deleteFrom("image_paths").where("user_id", "=", userId).where("path", "=", path).execute();
    this.d.onChanged(userId);
    return { remaining: others.map((o) => o.path).sort(), imageDeleted: false };
  }

  async #afterRelease(hashes: string[]) {
    if (hashes.length === 0) return;
    await Promise.all(hashes.map((h) => this.d.blobs.purge(h)));
    await this.d.onBlobsReleased(hashes);
  }

  /** Expired images are gone from every route at once, before any sweeper runs. */
  #live<Q extends { where: (...a: any[]) => Q }>(q: Q): Q {
    const now = this.d.now();
    return q.where((eb: any) => eb.or([eb("images.expires_at", "is", null), eb("images.expires_at", ">", now)]));
  }

  async #withPaths(db: Kysely<Database>, image: Image): Promise<ImageRecord> {
    return (await this.#attachPaths([image], db))[0];
  }

  async #attachPaths(rows: Image[], db: Kysely<Database> = this.d.db): Promise<ImageRecord[]> {
    if (rows.length === 0) return [];
    const paths = await db
      .selectFrom("image_paths")
      .select(["image_id", "path"])
      .where("image_id", "in", rows.map((r) => r.id))
      .orderBy("created_at")
      .orderBy("path")
      .execute();
    const byImage = new Map<string, string[]>();
    for (const p of paths) {
      if (!byImage.has(p.image_id)) byImage.set(p.image_id, []);
      byImage.get(p.image_id)!.push(p.path);
    }
    const tagRows = await db
      .selectFrom("image_tags")
      .select(["image_id", "tag"])
      .where("image_id", "in", rows.map((r) => r.id))
      .orderBy("tag")
      .execute();
    const tags = new Map<string, string[]>();
    for (const t of tagRows) {
      if (!tags.has(t.image_id)) tags.set(t.image_id, []);
      tags.get(t.image_id)!.push(t.tag);
    }
    return rows.map((r) => ({ ...r, paths: byImage.get(r.id) ?? [], tags: tags.get(r.id) ?? [] }));
  }
}

/**
 * Picks the alias for an upload. An explicit path that another image holds is a conflict; a
 * path derived from the file name gets a numeric suffix instead, so re-uploading "photo.jpg"
 * with new content never fails.
 */
async function claimPath(trx: Kysely<Database>, userId: string, wanted: string, sameImageId: string | undefined, explicit: boolean) {
  for (let n = 0; n < 1000; n++) {
    const path = n === 0 ? wanted : withSuffix(wanted, n);
    const holder = await trx.selectFrom("image_paths").select("image_id").where("user_id", "=", userId).where("stem", "=", stemOf(path)).executeTakeFirst();
    if (!holder) return { path, free: true };
    if (holder.image_id === sameImageId) return { path, free: false };
    if (explicit) throw new AppError("CONFLICT", `Path '${path}' is already used by another image`);
  }
  throw new AppError("CONFLICT", `Too many images named like '${wanted}'`);
}

function withSuffix(path: string, n: number) {
  const stem = stemOf(path);
  return `${stem}-${n}${path.slice(stem.length)}`;
}

async function insertPath(trx: Kysely<Database>, userId: string, path: string, imageId: string, now: number) {
  await trx.insertInto("image_paths").values({ user_id: userId, stem: stemOf(path), path, image_id: imageId, created_at: now }).execute();
}

/** Within a transaction: drops blob rows no image references and moves their files aside. */
export async function releaseBlobs(trx: Kysely<Database>, blobs: BlobStore, hashes: string[], released: string[]): Promise<string[]> {
  for (const hash of hashes) {
    const used = await trx.selectFrom("images").select("id").where("blob_hash", "=", hash).limit(1).executeTakeFirst();
    if (used) continue;
    await trx.deleteFrom("blobs").where("hash", "=", hash).execute();
    await blobs.trash(hash);
    released.push(hash);
  }
  return released;
}

function escapeLike(s: string) {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** LIKE with an explicit escape character (SQLite has none by default; PostgreSQL agrees on this form). */
function like(column: string, pattern: string, caseInsensitive = false) {
  const col = caseInsensitive ? sql`lower(${sql.ref(column)})` : sql.ref(column);
  return sql<boolean>`${col} like ${pattern} escape '\\'`;
}

