import { randomUUID } from "node:crypto";
import { mkdir, open, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type FileBody, fileObject, fileStream, unlinkIfPresent } from "./fs/files.ts";
import type { StoredObject, VariantStore } from "./types.ts";

const KEY = /^[0-9a-f]{16,128}$/;

/**
 * A bounded disk cache in front of a remote variant store (S3): variants this node made or
 * served lately are sent from local files, least recently used dropped past `capBytes`. It
 * starts empty (it only ever holds copies), so it needs no recovery. The remote store stays
 * the truth: the index in the database decides what exists, before this cache is asked.
 */
export class LocalVariantStore implements VariantStore {
  readonly #inner: VariantStore;
  readonly #dir: string;
  readonly #cap: number;
  readonly #fileBody: FileBody;
  /** Key → size, in order of use (oldest first). */
  readonly #entries = new Map<string, number>();
  /** Keys being copied in from the remote now, and since when. */
  readonly #copying = new Map<string, number>();
  #bytes = 0;

  constructor(inner: VariantStore, dir: string, capBytes: number, options: { fileBody?: FileBody } = {}) {
    this.#inner = inner;
    this.#dir = dir;
    this.#cap = capBytes;
    this.#fileBody = options.fileBody ?? fileStream;
  }

  async init() {
    await rm(this.#dir, { recursive: true, force: true });
    await mkdir(this.#dir, { recursive: true });
  }

  /**
   * This process's directory under `root`: processes sharing a data directory each keep their
   * own (one's start must not empty another's). Directories of processes that are gone are
   * removed.
   */
  static async dirFor(root: string): Promise<string> {
    await mkdir(root, { recursive: true });
    for (const name of await readdir(root)) {
      const pid = Number(name);
      if (Number.isInteger(pid) && pid !== process.pid && !alive(pid))
        await rm(join(root, name), { recursive: true, force: true });
    }
    return join(root, String(process.pid));
  }

  /** What the cache holds now, for tests and metrics. */
  usage() {
    return { bytes: this.#bytes, entries: this.#entries.size };
  }

  #local(key: string) {
    if (!KEY.test(key)) throw new Error(`not a variant key: ${key}`);
    return join(this.#dir, key);
  }

  async put(key: string, data: Uint8Array) {
    const path = this.#local(key);
    await this.#inner.put(key, data);
    if (data.byteLength > this.#cap) return;
    const tmp = `${path}.${randomUUID()}.tmp`;
    try {
      await writeFile(tmp, data);
      await rename(tmp, path);
      await this.#add(key, data.byteLength);
    } catch {
      // A full or failing local disk costs only speed: S3 has the variant.
      await unlinkIfPresent(tmp);
    }
  }

  async open(key: string): Promise<StoredObject | null> {
    const path = this.#local(key);
    const size = this.#entries.get(key);
    if (size !== undefined) {
      const local = await fileObject(path, this.#fileBody);
      if (local && local.size === size) {
        this.#entries.delete(key);
        this.#entries.set(key, size);
        return local;
      }
      await this.#drop(key);
    }
    const remote = await this.#inner.open(key);
    if (!remote || remote.size > this.#cap) return remote;
    // Callers may keep the object and read it again (the delivery's hot path does): each read
    // takes the local copy once there is one, else copies what passes by into the cache (one
    // copy per key at a time), else streams from the remote.
    const read =
      <T>(local: (path: string) => T) =>
      (): T | ReadableStream<Uint8Array> => {
        if (this.#entries.get(key) === remote.size) return local(path);
        // A copy cut off without a word (a stream error) frees the key after a minute.
        if (Date.now() - (this.#copying.get(key) ?? 0) < 60_000) return remote.stream();
        this.#copying.set(key, Date.now());
        return this.#copyInto(key, remote.size, remote.stream());
      };
    // For a response: the local copy, or the remote's bytes with the source opened first.
    const open = async (): Promise<BodyInit> => {
      if (this.#entries.get(key) === remote.size) return this.#fileBody(path);
      const source = remote.open ? ((await remote.open()) as ReadableStream<Uint8Array>) : remote.stream();
      if (Date.now() - (this.#copying.get(key) ?? 0) < 60_000) return source;
      this.#copying.set(key, Date.now());
      return this.#copyInto(key, remote.size, source);
    };
    return { size: remote.size, body: read(this.#fileBody), stream: read(fileStream), open };
  }

  #copyInto(key: string, size: number, source: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    const path = this.#local(key);
    const tmp = `${path}.${randomUUID()}.tmp`;
    let file: Awaited<ReturnType<typeof open>> | null = null;
    let written = 0;
    let failed = false;
    const abandon = async () => {
      failed = true;
      this.#copying.delete(key);
      await file?.close().catch(() => {});
      file = null;
      await unlinkIfPresent(tmp);
    };
    return source.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform: async (chunk, controller) => {
          controller.enqueue(chunk);
          if (failed) return;
          try {
            file ??= await open(tmp, "wx");
            await file.write(chunk);
            written += chunk.byteLength;
          } catch {
            await abandon();
          }
        },
        flush: async () => {
          if (failed) return;
          try {
            file ??= await open(tmp, "wx");
            await file.close();
            file = null;
            if (written !== size) return void (await abandon());
            await rename(tmp, path);
            await this.#add(key, size);
            this.#copying.delete(key);
          } catch {
            await abandon();
          }
        },
        // A client that went away leaves no half file behind.
        cancel: abandon,
      } as Transformer<Uint8Array, Uint8Array>),
    );
  }

  async #add(key: string, size: number) {
    const old = this.#entries.get(key);
    if (old !== undefined) this.#bytes -= old;
    this.#entries.delete(key);
    this.#entries.set(key, size);
    this.#bytes += size;
    for (const [k] of this.#entries) {
      if (this.#bytes <= this.#cap) break;
      await this.#drop(k);
    }
  }

  async #drop(key: string) {
    const size = this.#entries.get(key);
    if (size === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= size;
    await unlinkIfPresent(this.#local(key));
  }

  async delete(keys: string[]) {
    await this.#inner.delete(keys);
    for (const k of keys) await this.#drop(k);
  }

  sweep(isKnown: (key: string) => Promise<boolean>) {
    return this.#inner.sweep(isKnown);
  }
}

function alive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
