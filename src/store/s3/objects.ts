import type { StoredObject } from "../types.ts";
import type { S3Client } from "./client.ts";

/**
 * An object of known size whose bytes are fetched when a body is first read: `open` costs one
 * HEAD, and a caller that only checks the size (the variant cache's sweep) fetches nothing.
 */
export async function s3Object(s3: S3Client, key: string): Promise<StoredObject | null> {
  const size = await s3.head(key);
  if (size === null) return null;
  const stream = () => lazyGet(s3, key);
  return { size, body: stream, stream, open: () => openExact(s3, key, size) };
}

/** GETs the object now; its body must be `size` bytes, or the stream errors. */
async function openExact(s3: S3Client, key: string, size: number): Promise<ReadableStream<Uint8Array>> {
  const res = await s3.get(key);
  if (!res?.body) throw Object.assign(new Error(`object ${key} is gone`), { code: "ENOENT" });
  const length = res.headers.get("content-length");
  if (length !== null && Number(length) !== size) {
    await res.body.cancel().catch(() => {});
    throw new Error(`object ${key} is ${length} bytes, its HEAD said ${size}`);
  }
  return exactly(res.body, size, key);
}

/** Passes a stream on, erroring when it ends before (or runs past) `size` bytes. */
export function exactly(source: ReadableStream<Uint8Array>, size: number, what: string): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let seen = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const r = await reader.read();
        if (r.done) {
          if (seen !== size) throw new Error(`${what}: ${seen} bytes arrived, ${size} expected`);
          controller.close();
          return;
        }
        seen += r.value.byteLength;
        if (seen > size) throw new Error(`${what}: more than the ${size} bytes expected`);
        controller.enqueue(r.value);
      } catch (err) {
        reader.cancel(err).catch(() => {});
        controller.error(err);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

function lazyGet(s3: S3Client, key: string): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (!reader) {
          const res = await s3.get(key);
          if (!res?.body) throw Object.assign(new Error(`object ${key} is gone`), { code: "ENOENT" });
          reader = res.body.getReader();
        }
        const r = await reader.read();
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      } catch (err) {
        controller.error(err);
      }
    },
    async cancel(reason) {
      await reader?.cancel(reason);
    },
  });
}

/** The whole object; a missing one throws an error with code ENOENT, as reading a missing file does. */
export async function readObject(s3: S3Client, key: string): Promise<Uint8Array> {
  const res = await s3.get(key);
  if (!res)
    throw Object.assign(new Error(`blob ${key.slice(key.lastIndexOf("/") + 1)} is missing`), { code: "ENOENT" });
  return new Uint8Array(await res.arrayBuffer());
}

/** Runs `fn` over items, at most `n` at a time. */
export async function eachLimited<T>(items: T[], n: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/**
 * Deletes the objects under `prefix` older than `cutoff` whose last path segment `keep`
 * refuses (younger ones may be another node's work in progress); returns how many.
 */
export async function sweepListed(
  s3: S3Client,
  prefix: string,
  cutoff: number,
  keep: (name: string) => Promise<boolean>,
): Promise<number> {
  let removed = 0;
  for await (const o of s3.list(prefix)) {
    if (o.lastModified > cutoff || (await keep(o.key.slice(o.key.lastIndexOf("/") + 1)))) continue;
    await s3.delete(o.key);
    removed++;
  }
  return removed;
}
