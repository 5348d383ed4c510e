import { randomUUID } from "node:crypto";
import { StageMeter } from "../meter.ts";
import { StagedHandle } from "../staged.ts";
import type { BlobStore, StagedBlob, StoredObject } from "../types.ts";
import { type S3Client, S3Error } from "./client.ts";
import { readObject, s3Object } from "./objects.ts";
import { sweepTemp, uploadStream } from "./upload.ts";

const HASH = /^[0-9a-f]{64}$/;
const PART = ".part";

export interface S3Layout {
  /** The storage URL's prefix ("" or ending in "/"). */
  prefix: string;
  /** The start-up sweep leaves temp and unknown objects younger than this alone: they may be another node's work in progress. */
  sweepGraceMs: number;
}

/**
 * Blobs as objects `blobs/ab/cd/<sha256>`. An upload streams into `tmp/<uuid>.part` (one PUT up
 * to 8 MiB, a multipart upload past it) while it is hashed; commit copies it to its hash's key
 * on the server and removes the temp object. Deleting moves the object to `trash/<sha256>`
 * (copy, then delete: at every moment one of the two exists), and purge removes it after the
 * database transaction has committed, as the filesystem driver does.
 */
export class S3BlobStore implements BlobStore {
  readonly #s3: S3Client;
  readonly #layout: S3Layout;

  constructor(s3: S3Client, layout: S3Layout) {
    this.#s3 = s3;
    this.#layout = layout;
  }

  #key(hash: string) {
    if (!HASH.test(hash)) throw new Error(`not a blob hash: ${hash}`);
    return `${this.#layout.prefix}blobs/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`;
  }

  #trashKey(hash: string) {
    if (!HASH.test(hash)) throw new Error(`not a blob hash: ${hash}`);
    return `${this.#layout.prefix}trash/${hash}`;
  }

  get #tmp() {
    return `${this.#layout.prefix}tmp/`;
  }

  async stage(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<StagedBlob> {
    const tempKey = `${this.#tmp}${randomUUID()}${PART}`;
    const meter = new StageMeter(maxBytes);
    const { small } = await uploadStream(this.#s3, tempKey, source, {
      tmpPrefix: this.#tmp,
      onChunk: (c) => meter.add(c),
    });
    const { hash, size, head, tail } = meter.finish();
    return new StagedHandle(hash, size, head, tail, {
      read: () => (small ? Promise.resolve(small) : readObject(this.#s3, tempKey)),
      place: () => this.#place(tempKey, hash),
      settle: async () => {
        await this.#place(tempKey, hash);
        await this.#s3.delete(tempKey);
      },
      discard: () => this.#s3.delete(tempKey),
    });
  }

  async #place(tempKey: string, hash: string) {
    const target = this.#key(hash);
    // Same hash, same bytes: a copy that is there already stays.
    // Gone: swept (a stage older than the sweep's age), or lost by the server. The upload
    // failed for the store's reasons, so it may be sent again: a 503, not a 500.
    if ((await this.#s3.head(target)) === null && !(await this.#s3.copy(tempKey, target)))
      throw new S3Error(`S3 COPY ${tempKey}: the staged upload for ${hash} is gone`, 503, "StagedUploadGone");
  }

  async read(hash: string): Promise<Uint8Array> {
    return readObject(this.#s3, this.#key(hash));
  }

  async open(hash: string): Promise<StoredObject | null> {
    return s3Object(this.#s3, this.#key(hash));
  }

  async exists(hash: string) {
    return (await this.#s3.head(this.#key(hash))) !== null;
  }

  async trash(hash: string) {
    if (await this.#s3.copy(this.#key(hash), this.#trashKey(hash))) await this.#s3.delete(this.#key(hash));
  }

  async restore(hash: string) {
    if (await this.#s3.copy(this.#trashKey(hash), this.#key(hash))) await this.#s3.delete(this.#trashKey(hash));
  }

  async purge(hash: string) {
    await this.#s3.delete(this.#trashKey(hash));
  }

  async sweep(isKnown: (hash: string) => Promise<boolean>) {
    const { prefix, sweepGraceMs } = this.#layout;
    const cutoff = Date.now() - sweepGraceMs;
    // Partial uploads from a crash or a cut connection.
    let removed = await sweepTemp(this.#s3, this.#tmp, sweepGraceMs);
    // Trashed blobs: a crash between trash and purge; restore the ones a row still uses.
    for await (const o of this.#s3.list(`${prefix}trash/`)) {
      const name = o.key.slice(`${prefix}trash/`.length);
      if (HASH.test(name) && (await isKnown(name))) await this.restore(name);
      else if (o.lastModified <= cutoff) {
        await this.#s3.delete(o.key);
        removed++;
      }
    }
    // Blobs whose row never came (a crash, or a failed transaction, after the blob was placed).
    // Nodes may be uploading the same content right now: the blob is moved aside first and
    // asked about again, so an upload that committed its row meanwhile gets it back (and one
    // committing later finds it missing and places it again, see StagedBlob.commit).
    for await (const o of this.#s3.list(`${prefix}blobs/`)) {
      const name = o.key.slice(o.key.lastIndexOf("/") + 1);
      if (o.lastModified > cutoff) continue;
      if (!HASH.test(name)) {
        await this.#s3.delete(o.key);
        removed++;
        continue;
      }
      if (await isKnown(name)) continue;
      await this.trash(name);
      if (await isKnown(name)) await this.restore(name);
      else {
        await this.purge(name);
        removed++;
      }
    }
    return { removed };
  }
}
