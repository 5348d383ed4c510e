import { randomUUID } from "node:crypto";
import { mkdir, open, readdir, rename } from "node:fs/promises";
import { join } from "node:path";
import type { ArchiveStore, StoredObject } from "../types.ts";
import { type FileBody, fileObject, fileStream, unlinkIfPresent } from "./files.ts";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;
const PART = ".part";

/**
 * Downloadable files under `downloads/`, written to a temp name beside their place and renamed
 * when whole. Not fsynced: a file lost in a crash is made again by its job.
 */
export class FsArchiveStore implements ArchiveStore {
  readonly #dir: string;
  readonly #fileBody: FileBody;

  constructor(dataDir: string, options: { fileBody?: FileBody } = {}) {
    this.#dir = join(dataDir, "downloads");
    this.#fileBody = options.fileBody ?? fileStream;
  }

  async init() {
    await mkdir(this.#dir, { recursive: true });
  }

  #path(name: string) {
    if (!NAME.test(name) || name.length > 200 || name.endsWith(PART)) throw new Error(`not an archive name: ${name}`);
    return join(this.#dir, name);
  }

  async put(name: string, source: AsyncIterable<Uint8Array>) {
    const target = this.#path(name);
    const temp = join(this.#dir, `${randomUUID()}${PART}`);
    let size = 0;
    try {
      const file = await open(temp, "wx");
      try {
        for await (const chunk of source) {
          await file.write(chunk);
          size += chunk.byteLength;
        }
      } finally {
        // Closed before the rename or the unlink below.
        await file.close();
      }
      await rename(temp, target);
      return size;
    } catch (err) {
      await unlinkIfPresent(temp);
      throw err;
    }
  }

  async open(name: string): Promise<StoredObject | null> {
    return fileObject(this.#path(name), this.#fileBody);
  }

  async delete(name: string) {
    await unlinkIfPresent(this.#path(name));
  }

  async sweep() {
    let removed = 0;
    for (const name of await readdir(this.#dir)) {
      if (!name.endsWith(PART)) continue;
      await unlinkIfPresent(join(this.#dir, name));
      removed++;
    }
    return { removed };
  }
}
