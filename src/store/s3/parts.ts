import { checkPartName, type PartStore } from "../types.ts";
import type { S3Layout } from "./blobs.ts";
import type { S3Client } from "./client.ts";
import { uploadStream } from "./upload.ts";

/**
 * Parts of resumable uploads as objects `uploads/<upload id>/<part>`, in the bucket every node
 * shares, so that any node can take an upload's next part or finish it. A part is one PUT (a
 * multipart upload past 8 MiB, whose marker under `tmp/` the blob sweep finds after a crash).
 */
export class S3PartStore implements PartStore {
  readonly #s3: S3Client;
  readonly #layout: S3Layout;

  constructor(s3: S3Client, layout: S3Layout) {
    this.#s3 = s3;
    this.#layout = layout;
  }

  get #root() {
    return `${this.#layout.prefix}uploads/`;
  }

  #key(uploadId: string, name: string) {
    checkPartName(uploadId, name);
    return `${this.#root}${uploadId}/${name}`;
  }

  async put(uploadId: string, name: string, source: AsyncIterable<Uint8Array>) {
    const { size } = await uploadStream(this.#s3, this.#key(uploadId, name), source, {
      tmpPrefix: `${this.#layout.prefix}tmp/`,
    });
    return size;
  }

  stream(uploadId: string, name: string): ReadableStream<Uint8Array> {
    const key = this.#key(uploadId, name);
    const s3 = this.#s3;
    let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!reader) {
          const res = await s3.get(key);
          if (!res?.body) throw new Error(`upload part ${key} is gone`);
          reader = res.body.getReader();
        }
        const r = await reader.read();
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      },
      cancel: (why) => reader?.cancel(why),
    });
  }

  async delete(uploadId: string, name: string) {
    await this.#s3.delete(this.#key(uploadId, name));
  }

  async clear(uploadId: string) {
    checkPartName(uploadId);
    // Listed first, then deleted: a listing is not paged across its own deletions.
    const keys: string[] = [];
    for await (const o of this.#s3.list(`${this.#root}${uploadId}/`)) keys.push(o.key);
    for (const key of keys) await this.#s3.delete(key);
  }

  async *uploads() {
    const seen = new Set<string>();
    for await (const o of this.#s3.list(this.#root)) {
      const id = o.key.slice(this.#root.length).split("/")[0];
      if (id && !seen.has(id)) {
        seen.add(id);
        yield id;
      }
    }
  }
}
