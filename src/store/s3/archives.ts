import type { ArchiveStore, StoredObject } from "../types.ts";
import type { S3Client } from "./client.ts";
import type { S3Layout } from "./blobs.ts";
import { s3Object } from "./objects.ts";
import { sweepTemp, uploadStream } from "./upload.ts";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;
const PART = ".part";

/**
 * Downloadable files as objects `downloads/<name>`, written by a multipart upload straight to
 * their key (the object appears when the upload completes). Its marker under `tmp-downloads/`
 * lets the next start abort an upload a crash cut short.
 */
export class S3ArchiveStore implements ArchiveStore {
  readonly #s3: S3Client;
  readonly #layout: S3Layout;

  constructor(s3: S3Client, layout: S3Layout) {
    this.#s3 = s3;
    this.#layout = layout;
  }

  #key(name: string) {
    if (!NAME.test(name) || name.length > 200 || name.endsWith(PART)) throw new Error(`not an archive name: ${name}`);
    return `${this.#layout.prefix}downloads/${name}`;
  }

  async put(name: string, source: AsyncIterable<Uint8Array>) {
    const { size } = await uploadStream(this.#s3, this.#key(name), source, {
      tmpPrefix: `${this.#layout.prefix}tmp-downloads/`,
      multipartFromStart: true,
    });
    return size;
  }

  async open(name: string): Promise<StoredObject | null> {
    return s3Object(this.#s3, this.#key(name));
  }

  async delete(name: string) {
    await this.#s3.delete(this.#key(name));
  }

  async sweep() {
    return { removed: await sweepTemp(this.#s3, `${this.#layout.prefix}tmp-downloads/`, this.#layout.sweepGraceMs) };
  }
}
