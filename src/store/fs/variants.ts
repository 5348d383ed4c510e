import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { StoredObject, VariantStore } from "../types.ts";
import {
  type FileBody,
  fileObject,
  fileStream,
  removeTemp,
  renameIntoPlace,
  shardedPath,
  sweepSharded,
  unlinkIfPresent,
} from "./files.ts";

const KEY = /^[0-9a-f]{16,128}$/;
const TEMP = ".variant";

/**
 * Variants as files under `variants/ab/cd/<key>`, written to `tmp/` and renamed into place so
 * a reader sees whole files. Not fsynced: a variant lost in a crash is made again, and the
 * cache notices a short file by its size.
 */
export class FsVariantStore implements VariantStore {
  readonly #root: string;
  readonly #tmp: string;
  readonly #fileBody: FileBody;

  constructor(dataDir: string, options: { fileBody?: FileBody } = {}) {
    this.#root = join(dataDir, "variants");
    this.#tmp = join(dataDir, "tmp");
    this.#fileBody = options.fileBody ?? fileStream;
  }

  async init() {
    await mkdir(this.#root, { recursive: true });
    await mkdir(this.#tmp, { recursive: true });
  }

  #path(key: string) {
    if (!KEY.test(key)) throw new Error(`not a variant key: ${key}`);
    return shardedPath(this.#root, key);
  }

  async put(key: string, data: Uint8Array) {
    const path = this.#path(key);
    const tmp = join(this.#tmp, `${randomUUID()}${TEMP}`);
    try {
      // writeFile closes its handle before the rename below.
      await writeFile(tmp, data);
      await mkdir(dirname(path), { recursive: true });
      await renameIntoPlace(tmp, path);
    } catch (err) {
      await unlinkIfPresent(tmp);
      throw err;
    }
  }

  async open(key: string): Promise<StoredObject | null> {
    return fileObject(this.#path(key), this.#fileBody);
  }

  async delete(keys: string[]) {
    await Promise.all(keys.map((k) => unlinkIfPresent(this.#path(k))));
  }

  async sweep(isKnown: (key: string) => Promise<boolean>) {
    const temps = await removeTemp(this.#tmp, TEMP);
    // Files whose index row never committed (a crash between the rename and the insert).
    const unknown = await sweepSharded(this.#root, async (name) => KEY.test(name) && (await isKnown(name)));
    return { removed: temps + unknown };
  }
}
