import { randomUUID } from "node:crypto";
import { link, mkdir, open, readdir, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import { StageMeter } from "../meter.ts";
import { StagedHandle } from "../staged.ts";
import { type BlobStore, type StagedBlob, type StoredObject } from "../types.ts";
import {
  type FileBody,
  fileObject,
  fileStream,
  ignoreMissing,
  isFile,
  readWhole,
  removeTemp,
  renameIntoPlace,
  shardedPath,
  sweepSharded,
  syncDir,
  unlinkIfPresent,
} from "./files.ts";

const HASH = /^[0-9a-f]{64}$/;
const PART = ".part";

/**
 * Blobs as files under `blobs/ab/cd/<sha256>`. A blob is written to `tmp/`, fsynced, then
 * renamed into place (and the directory fsynced), so a crash leaves a whole blob or a leftover
 * in `tmp/` that the start-up sweep removes. Deleted blobs wait in `trash/` until the
 * transaction that deleted their rows has committed.
 */
export class FsBlobStore implements BlobStore {
  readonly #root: string;
  readonly #tmp: string;
  readonly #trash: string;
  readonly #fileBody: FileBody;

  constructor(dataDir: string, options: { fileBody?: FileBody } = {}) {
    this.#root = join(dataDir, "blobs");
    this.#tmp = join(dataDir, "tmp");
    this.#trash = join(dataDir, "trash");
    this.#fileBody = options.fileBody ?? fileStream;
  }

  async init() {
    await Promise.all([this.#root, this.#tmp, this.#trash].map((d) => mkdir(d, { recursive: true })));
  }

  #path(hash: string) {
    if (!HASH.test(hash)) throw new Error(`not a blob hash: ${hash}`);
    return shardedPath(this.#root, hash);
  }

  async stage(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<StagedBlob> {
    const tempPath = join(this.#tmp, `${randomUUID()}${PART}`);
    const file = await open(tempPath, "wx");
    const meter = new StageMeter(maxBytes);
    try {
      try {
        for await (const chunk of source) {
          meter.add(chunk);
          await file.write(chunk);
        }
        await file.sync();
      } finally {
        // Closed before anything renames or removes it.
        await file.close();
      }
    } catch (err) {
      await unlinkIfPresent(tempPath);
      throw err;
    }
    const { hash, size, head, tail } = meter.finish();
    return new StagedHandle(hash, size, head, tail, {
      read: () => readWhole(tempPath),
      place: () => this.#place(tempPath, hash),
      settle: async () => {
        await this.#place(tempPath, hash);
        await unlinkIfPresent(tempPath);
      },
      discard: () => unlinkIfPresent(tempPath),
    });
  }

  /** A second name for the staged file (a hard link): the staged copy stays until settled. */
  async #place(tempPath: string, hash: string) {
    const target = this.#path(hash);
    if (await isFile(target)) return;
    await mkdir(dirname(target), { recursive: true });
    // One that appeared meanwhile is the same bytes (same hash).
    await link(tempPath, target).catch((err) => {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    });
    await syncDir(dirname(target));
  }

  async read(hash: string): Promise<Uint8Array> {
    return readWhole(this.#path(hash));
  }

  async open(hash: string): Promise<StoredObject | null> {
    return fileObject(this.#path(hash), this.#fileBody);
  }

  async exists(hash: string) {
    return isFile(this.#path(hash));
  }

  async trash(hash: string) {
    await rename(this.#path(hash), join(this.#trash, hash)).catch(ignoreMissing);
  }

  async restore(hash: string) {
    const target = this.#path(hash);
    await mkdir(dirname(target), { recursive: true });
    // A blob uploaded again meanwhile may be there already (and open, under Windows).
    await renameIntoPlace(join(this.#trash, hash), target).catch(ignoreMissing);
  }

  async purge(hash: string) {
    if (!HASH.test(hash)) throw new Error(`not a blob hash: ${hash}`);
    await unlinkIfPresent(join(this.#trash, hash));
  }

  async sweep(isKnown: (hash: string) => Promise<boolean>) {
    // Partial uploads from a crash or a cut connection.
    let removed = await removeTemp(this.#tmp, PART);
    // Trashed blobs: a crash between trash and purge; restore the ones a row still uses.
    for (const name of await readdir(this.#trash)) {
      if (HASH.test(name) && (await isKnown(name))) await this.restore(name);
      else {
        await unlinkIfPresent(join(this.#trash, name));
        removed++;
      }
    }
    // Blobs whose row never committed (a crash between commit and the database insert).
    removed += await sweepSharded(this.#root, async (name) => HASH.test(name) && (await isKnown(name)));
    return { removed };
  }
}
