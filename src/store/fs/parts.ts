import { randomUUID } from "node:crypto";
import { mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { checkPartName, type PartStore } from "../types.ts";
import { fileStream, unlinkIfPresent } from "./files.ts";

const TEMP = ".part";

/**
 * Parts of resumable uploads as files `uploads/<upload id>/<part>`: written to a temp name
 * beside their place, fsynced and renamed when whole, so a crash leaves whole parts (an upload
 * continues after a restart) and temp files its sweep removes.
 */
export class FsPartStore implements PartStore {
  readonly #root: string;

  constructor(dataDir: string) {
    this.#root = join(dataDir, "uploads");
  }

  async init() {
    await mkdir(this.#root, { recursive: true });
  }

  #dir(uploadId: string) {
    checkPartName(uploadId);
    return join(this.#root, uploadId);
  }

  async put(uploadId: string, name: string, source: AsyncIterable<Uint8Array>) {
    checkPartName(name);
    const dir = this.#dir(uploadId);
    await mkdir(dir, { recursive: true });
    const temp = join(dir, `${randomUUID()}${TEMP}`);
    let size = 0;
    try {
      const file = await open(temp, "wx");
      try {
        for await (const chunk of source) {
          await file.write(chunk);
          size += chunk.byteLength;
        }
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, join(dir, name));
      return size;
    } catch (err) {
      await unlinkIfPresent(temp);
      throw err;
    }
  }

  stream(uploadId: string, name: string) {
    checkPartName(name);
    return fileStream(join(this.#dir(uploadId), name));
  }

  async delete(uploadId: string, name: string) {
    checkPartName(name);
    await unlinkIfPresent(join(this.#dir(uploadId), name));
  }

  async clear(uploadId: string) {
    await rm(this.#dir(uploadId), { recursive: true, force: true });
  }

  async *uploads() {
    for (const name of await readdir(this.#root)) if (!name.startsWith(".")) yield name;
  }
}
