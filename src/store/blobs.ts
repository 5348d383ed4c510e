import { createHash, randomUUID } from "node:crypto";
import { mkdir, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";

/** Bytes that have been received and hashed but not yet stored under their hash. */
export interface StagedBlob {
  readonly hash: string;
  readonly size: number;
  /** The first bytes (up to HEAD_BYTES), for sniffing the format without reading the file. */
  readonly head: Uint8Array;
  /** The last bytes (up to TAIL_BYTES), for checking the file is not cut off. */
  readonly tail: Uint8Array;
  readonly tempPath: string;
}

export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`larger than ${limit} bytes`);
  }
}

/**
 * Content-addressed storage. The filesystem is one implementation; the interface is what an
 * object store would implement too (stage → commit, read, trash/restore/purge for deletion
 * inside a database transaction).
 */
export interface BlobStore {
  stage(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<StagedBlob>;
  /** Moves a staged blob under its hash; if that content is stored already, drops the copy. */
  commit(staged: StagedBlob): Promise<void>;
  discard(staged: StagedBlob): Promise<void>;
  read(hash: string): Promise<Uint8Array>;
  /** A local path for streaming responses. */
  path(hash: string): string;
  exists(hash: string): Promise<boolean>;
  /** Deletion in two steps so it can follow a database transaction: trash, then purge or restore. */
  trash(hash: string): Promise<void>;
  restore(hash: string): Promise<void>;
  purge(hash: string): Promise<void>;
  /** Removes stored blobs the caller does not know, and leftovers of interrupted work. */
  sweep(isKnown: (hash: string) => Promise<boolean>): Promise<{ removed: number }>;
}

const HEAD_BYTES = 1 << 20;
const TAIL_BYTES = 8 << 10;
const HASH = /^[0-9a-f]{64}$/;

export class FsBlobStore implements BlobStore {
  readonly #root: string;
  readonly #tmp: string;
  readonly #trash: string;

  constructor(dataDir: string) {
    this.#root = join(dataDir, "blobs");
    this.#tmp = join(dataDir, "tmp");
    this.#trash = join(dataDir, "trash");
  }

  async init() {
    await Promise.all([this.#root, this.#tmp, this.#trash].map((d) => mkdir(d, { recursive: true })));
  }

  path(hash: string) {
    if (!HASH.test(hash)) throw new Error(`not a blob hash: ${hash}`);
    return join(this.#root, hash.slice(0, 2), hash.slice(2, 4), hash);
  }

  async stage(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<StagedBlob> {
    const tempPath = join(this.#tmp, `${randomUUID()}.part`);
    const file = await open(tempPath, "wx");
    const hasher = createHash("sha256");
    const head = new Uint8Array(HEAD_BYTES);
    let headLen = 0;
    let tail: Uint8Array = new Uint8Array(0);
    let size = 0;
    try {
      for await (const chunk of source) {
        size += chunk.byteLength;
        if (size > maxBytes) throw new BlobTooLargeError(maxBytes);
        hasher.update(chunk);
        if (headLen < HEAD_BYTES) {
          const n = Math.min(HEAD_BYTES - headLen, chunk.byteLength);
          head.set(chunk.subarray(0, n), headLen);
          headLen += n;
        }
        tail = lastBytes(tail, chunk, TAIL_BYTES);
        await file.write(chunk);
      }
      await file.sync();
    } catch (err) {
      await file.close().catch(() => {});
      await rm(tempPath, { force: true });
      throw err;
    }
    await file.close();
    return { hash: hasher.digest("hex"), size, head: head.slice(0, headLen), tail, tempPath };
  }

  async commit(staged: StagedBlob) {
    const target = this.path(staged.hash);
    if (await this.exists(target, true)) {
      await rm(staged.tempPath, { force: true });
      return;
    }
    await mkdir(dirname(target), { recursive: true });
    await rename(staged.tempPath, target);
    await syncDir(dirname(target));
  }

  discard(staged: StagedBlob) {
    return rm(staged.tempPath, { force: true });
  }

  async read(hash: string) {
    const f = await open(this.path(hash), "r");
    try {
      return new Uint8Array(await f.readFile());
    } finally {
      await f.close();
    }
  }

  async exists(hashOrPath: string, isPath = false) {
    try {
      await stat(isPath ? hashOrPath : this.path(hashOrPath));
      return true;
    } catch {
      return false;
    }
  }

  async trash(hash: string) {
    await rename(this.path(hash), join(this.#trash, hash)).catch(ignoreMissing);
  }

  async restore(hash: string) {
    const target = this.path(hash);
    await mkdir(dirname(target), { recursive: true });
    await rename(join(this.#trash, hash), target).catch(ignoreMissing);
  }

  async purge(hash: string) {
    await unlink(join(this.#trash, hash)).catch(ignoreMissing);
  }

  async sweep(isKnown: (hash: string) => Promise<boolean>) {
    let removed = 0;
    // Partial uploads from a crash or a cut connection.
    for (const name of await readdir(this.#tmp)) {
      await rm(join(this.#tmp, name), { force: true });
      removed++;
    }
    // Trashed blobs: a crash between trash and purge; restore the ones a row still uses.
    for (const name of await readdir(this.#trash)) {
      if (HASH.test(name) && (await isKnown(name))) await this.restore(name);
      else await rm(join(this.#trash, name), { force: true });
    }
    // Blobs whose row never committed (a crash between commit and the database insert).
    for (const a of await readdir(this.#root)) {
      for (const b of await readdir(join(this.#root, a)).catch(() => [])) {
        for (const name of await readdir(join(this.#root, a, b)).catch(() => [])) {
          if (!HASH.test(name) || !(await isKnown(name))) {
            await rm(join(this.#root, a, b, name), { force: true });
            removed++;
          }
        }
      }
    }
    return { removed };
  }
}

function lastBytes(prev: Uint8Array, chunk: Uint8Array, n: number): Uint8Array {
  if (chunk.byteLength >= n) return chunk.slice(chunk.byteLength - n);
  const keep = Math.min(prev.byteLength, n - chunk.byteLength);
  const out = new Uint8Array(keep + chunk.byteLength);
  out.set(prev.subarray(prev.byteLength - keep), 0);
  out.set(chunk, keep);
  return out;
}

async function syncDir(dir: string) {
  // Makes the rename durable; not every platform lets a directory be opened (Windows).
  const fd = await open(dir, "r").catch(() => null);
  if (!fd) return;
  await fd.sync().catch(() => {});
  await fd.close();
}

function ignoreMissing(err: NodeJS.ErrnoException) {
  if (err.code !== "ENOENT") throw err;
}
