import { Readable } from "node:stream";
import yazl from "yazl";
import type { ImgwireDownload } from "../../db/schema.ts";
import { type Db, lockSkippingLocked } from "../../db/connection.ts";
import { AppError, notFound } from "../errors.ts";
import { newId } from "../ids.ts";
import type { Images } from "../library/images.ts";
import type { ArchiveStore, BlobStore, StoredObject } from "../../store/types.ts";

// Bulk downloads: a job row (PENDING → PROCESSING → READY | FAILED) and a ZIP of the originals
// streamed file by file from the blob store into the archive store (memory stays flat
// whatever the total).
// Jobs are claimed with FOR UPDATE SKIP LOCKED and a conditional update, so any node's
// sweeper may build one and no two nodes build the same.

export interface DownloadsDeps {
  db: Db;
  images: Images;
  blobs: BlobStore;
  archives: ArchiveStore;
  retentionMs: number;
  now: () => number;
  log: (line: string) => void;
}

const zipName = (id: string) => `${id}.zip`;

/** How often a node building a job says it still is. */
const HEARTBEAT_MS = 60_000;

export class ImgwireDownloads {
  constructor(private readonly d: DownloadsDeps) {}

  /** The ZIP of a finished job, to send; null when there is none (not made, or swept). */
  zip(id: string): Promise<StoredObject | null> {
    return this.d.archives.open(zipName(id));
  }

  async create(userId: string, imageIds: string[]): Promise<ImgwireDownload> {
    const ids = [...new Set(imageIds)];
    const found = await this.d.images.many(userId, ids);
    if (found.length !== ids.length) {
      const known = new Set(found.map((i) => i.id));
      throw new AppError("NOT_FOUND", `Images not found: ${ids.filter((i) => !known.has(i)).join(", ")}`);
    }
    const now = this.d.now();
    const row: ImgwireDownload = {
      id: newId(now),
      user_id: userId,
      status: "PENDING",
      image_ids: ids,
      expires_at: null,
      created_at: now,
      updated_at: now,
    };
    await this.d.db
      .insertInto("imgwire_downloads")
      .values({ ...row, image_ids: JSON.stringify(ids) })
      .execute();
    return row;
  }

  async get(userId: string, id: string): Promise<ImgwireDownload> {
    const row = await this.d.db
      .selectFrom("imgwire_downloads")
      .selectAll()
      .where("id", "=", id)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    if (!row) throw notFound("Download job");
    return row;
  }

  async byId(id: string) {
    return this.d.db.selectFrom("imgwire_downloads").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** Builds pending jobs (up to 20); safe to call from any node at any time. */
  async runPending() {
    for (let i = 0; i < 20; i++) {
      const job = await this.#claim();
      if (!job) return;
      await this.#run(job);
    }
  }

  /**
   * The oldest pending job, now PROCESSING and this node's. The row is locked while claimed and
   * rows other nodes are claiming are skipped (FOR UPDATE SKIP LOCKED on PostgreSQL), so two
   * nodes never build one job; the conditional update keeps it so on SQLite too.
   */
  async #claim(): Promise<ImgwireDownload | undefined> {
    return this.d.db.transaction().execute(async (trx) => {
      const next = await lockSkippingLocked(
        trx,
        trx.selectFrom("imgwire_downloads").selectAll().where("status", "=", "PENDING").orderBy("created_at").limit(1),
      ).executeTakeFirst();
      if (!next) return undefined;
      const claimed = await trx
        .updateTable("imgwire_downloads")
        .set({ status: "PROCESSING", updated_at: this.d.now() })
        .where("id", "=", next.id)
        .where("status", "=", "PENDING")
        .executeTakeFirst();
      return claimed.numUpdatedRows === 0n ? undefined : { ...next, status: "PROCESSING" };
    });
  }

  async #run(job: ImgwireDownload) {
    const id = job.id;
    // While this node builds the job it says so now and then; a job nobody has spoken for in
    // a while had its node die under it, and the sweep hands it to whichever node comes next.
    const heartbeat = setInterval(() => {
      this.d.db
        .updateTable("imgwire_downloads")
        .set({ updated_at: this.d.now() })
        .where("id", "=", id)
        .where("status", "=", "PROCESSING")
        .execute()
        .catch(() => {});
    }, HEARTBEAT_MS);
    try {
      const images = await this.d.images.many(job.user_id, job.image_ids);
      const zip = new yazl.ZipFile();
      const out = zip.outputStream as Readable;
      // A source that fails (a blob gone missing) fails the archive, which then keeps nothing.
      zip.on("error", (err) => out.destroy(err));
      const written = this.d.archives.put(zipName(id), out);
      const names = new Set<string>();
      for (const img of images) {
        let name = img.paths[0] ?? `${img.id}.${img.format}`;
        if (names.has(name)) name = `${img.id}-${name}`;
        names.add(name);
        // Opened by yazl when it reaches this entry: one open file and one buffer at a time.
        zip.addReadStreamLazy(name, { mtime: new Date(img.created_at), compress: false, size: img.size }, (cb) => {
          this.d.blobs.open(img.blob_hash).then(
            (object) =>
              object
                ? cb(null, Readable.fromWeb(object.stream() as any))
                : cb(new Error(`blob of image ${img.id} is missing`), null as any),
            (err) => cb(err, null as any),
          );
        });
      }
      zip.end();
      await written;
      const now = this.d.now();
      await this.d.db
        .updateTable("imgwire_downloads")
        .set({ status: "READY", expires_at: now + this.d.retentionMs, updated_at: now })
        .where("id", "=", id)
        .execute();
    } catch (err) {
      this.d.log(`imgwire download ${id} failed: ${err instanceof Error ? err.message : String(err)}`);
      await this.d.db
        .updateTable("imgwire_downloads")
        .set({ status: "FAILED", updated_at: this.d.now() })
        .where("id", "=", id)
        .execute();
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Removes ZIPs past their retention, with their jobs. */
  async sweep() {
    // Orphans: PROCESSING, but their node stopped saying so (it died mid-build).
    await this.d.db
      .updateTable("imgwire_downloads")
      .set({ status: "PENDING", updated_at: this.d.now() })
      .where("status", "=", "PROCESSING")
      .where("updated_at", "<", this.d.now() - HEARTBEAT_MS * 5)
      .execute();
    const expired = await this.d.db
      .selectFrom("imgwire_downloads")
      .select("id")
      .where("expires_at", "is not", null)
      .where("expires_at", "<=", this.d.now())
      .limit(100)
      .execute();
    for (const { id } of expired) {
      await this.d.archives.delete(zipName(id));
      await this.d.db.deleteFrom("imgwire_downloads").where("id", "=", id).execute();
    }
  }
}
