import type { StoredObject, VariantStore } from "../types.ts";
import type { S3Client } from "./client.ts";
import type { S3Layout } from "./blobs.ts";
import { eachLimited, s3Object, sweepListed } from "./objects.ts";

const KEY = /^[0-9a-f]{16,128}$/;

/**
 * Variants as objects `variants/ab/cd/<key>`, each one PUT: S3 shows a reader the whole
 * object or none, so no temp object is needed.
 */
export class S3VariantStore implements VariantStore {
  readonly #s3: S3Client;
  readonly #layout: S3Layout;

  constructor(s3: S3Client, layout: S3Layout) {
    this.#s3 = s3;
    this.#layout = layout;
  }

  #key(key: string) {
    if (!KEY.test(key)) throw new Error(`not a variant key: ${key}`);
    return `${this.#layout.prefix}variants/${key.slice(0, 2)}/${key.slice(2, 4)}/${key}`;
  }

  async put(key: string, data: Uint8Array) {
    await this.#s3.put(this.#key(key), data);
  }

  async open(key: string): Promise<StoredObject | null> {
    return s3Object(this.#s3, this.#key(key));
  }

  async delete(keys: string[]) {
    const objects = keys.map((k) => this.#key(k));
    await eachLimited(objects, 8, (k) => this.#s3.delete(k));
  }

  async sweep(isKnown: (key: string) => Promise<boolean>) {
    const cutoff = Date.now() - this.#layout.sweepGraceMs;
    // Objects whose index row never committed (a crash between the PUT and the insert).
    const removed = await sweepListed(
      this.#s3,
      `${this.#layout.prefix}variants/`,
      cutoff,
      async (name) => KEY.test(name) && (await isKnown(name)),
    );
    return { removed };
  }
}
