import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { mkdir, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import yazl from "yazl";
import type { ImgwireDownload } from "../db/imgwire-schema.ts";
import type { Db } from "../db/connection.ts";
import { AppError, notFound } from "./errors.ts";
import { newId } from "./ids.ts";
import type { Images } from "./images.ts";
import type { BlobStore } from "../store/types.ts";

// Bulk downloads: a job row (PENDING → PROCESSING → READY | FAILED) and a ZIP of the originals
// streamed file by file from the blob store to disk (memory stays flat whatever the total).
// Jobs are claimed with a conditional update, so any node's sweeper may finish one left behind.

export interface DownloadsDeps {
  db: Db;
  images: Images;
  blobs: BlobStore;
  dataDir: string;
  retentionMs: number;
  now: () => number;
  log: (line: string) => void;
}

export class ImgwireDownloads {
  readonly #dir: string;
  constructor(private readonly d: DownloadsDeps) {
    this.#dir = join(d.dataDir, "downloads");
  }

  file(id: string) {
    return join(this.#dir, `${id}.zip`);
  }

  async create(userId: string, imageIds: string[]): Promise<ImgwireDownload> {
    const ids = [...new Set(imageIds)];
    const found = await this.d.images.many(userId, ids);
    if (found.length !== ids.length) {
      const known = new Set(found.map((i) => i.id));
      throw new AppError("NOT_FOUND", `Images not found: ${ids.filter((i) => !known.has(i)).join(", ")}`);
    }
    const now = this.d.now();
    const row: ImgwireDownload = { id: newId(now), user_id: userId, status: "PENDING", image_ids: JSON.stringify(ids), expires_at: null, created_at: now, updated_at: now };
    await this.d.db.insertInto("imgwire_downloads").values(row).execute();
    return row;
  }

  async get(userId: string, id: string): Promise<ImgwireDownload> {
    const row = await this.d.db.selectFrom("imgwire_downloads").selectAll().where("id", "=", id).where("user_id", "=", userId).executeTakeFirst();
    if (!row) throw notFound("Download job");
    return row;
  }

  async byId(id: string) {
    return this.d.db.selectFrom("imgwire_downloads").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** Builds every pending job; safe to call from anywhere at any time. */
  async runPending() {
    const pending = await this.d.db.selectFrom("imgwire_downloads").select("id").where("status", "=", "PENDING").orderBy("created_at").limit(20).execute();
    for (const { id } of pending) await this.#run(id);
  }

  async #run(id: string) {
    const claimed = await this.d.db
      .updateTable("imgwire_downloads")
      .set({ status: "PROCESSING", updated_at: this.d.now() })
      .where("id", "=", id)
      .where("status", "=", "PENDING")
      .executeTakeFirst();
    if (claimed.numUpdatedRows === 0n) return;
    const job = (await this.byId(id))!;
    const temp = `${this.file(id)}.${process.pid}.part`;
    let closed: Promise<void> | undefined;
    try {
      await mkdir(this.#dir, { recursive: true });
      const images = await this.d.images.many(job.user_id, JSON.parse(job.image_ids));
      const zip = new yazl.ZipFile();
      const out = createWriteStream(temp);
      // The handle must be closed before the rename (or the unlink on failure): Windows refuses
      // either while it is open, and a pipeline may settle before the stream has closed.
      closed = out.closed ? Promise.resolve() : once(out, "close").then(() => {});
      const written = pipeline(zip.outputStream, out);
      const names = new Set<string>();
      for (const img of images) {
        let name = img.paths[0] ?? `${img.id}.${img.format}`;
        if (names.has(name)) name = `${img.id}-${name}`;
        names.add(name);
        // Opened by yazl when it reaches this entry: one open file and one buffer at a time.
        zip.addReadStreamLazy(name, { mtime: new Date(img.created_at), compress: false, size: img.size }, (cb) => {
          this.d.blobs.open(img.blob_hash).then(
            (object) => (object ? cb(null, Readable.fromWeb(object.stream() as any)) : cb(new Error(`blob of image ${img.id} is missing`), null as any)),
            (err) => cb(err, null as any),
          );
        });
      }
      zip.end();
      await written;
      await closed;
      await rename(temp, this.file(id));
      const now = this.d.now();
      await this.d.db.updateTable("imgwire_downloads").set({ status: "READY", expires_at: now + this.d.retentionMs, updated_at: now }).where("id", "=", id).execute();
    } catch (err) {
      this.d.log(`imgwire download ${id} failed: ${err instanceof Error ? err.message : String(err)}`);
      await closed?.catch(() => {});
      await unlink(temp).catch(() => {});
      await this.d.db.updateTable("imgwire_downloads").set({ status: "FAILED", updated_at: this.d.now() }).where("id", "=", id).execute();
    }
  }

  /** Removes ZIPs past their retention, with their jobs. */
  async sweep() {
    const expired = await this.d.db.selectFrom("imgwire_downloads").select("id").where("expires_at", "is not", null).where("expires_at", "<=", this.d.now()).limit(100).execute();
    for (const { id } of expired) {
      await unlink(this.file(id)).catch((err) => {
        if (err.code !== "ENOENT") throw err;
      });
      await this.d.db.deleteFrom("imgwire_downloads").where("id", "=", id).execute();
    }
  }
}
