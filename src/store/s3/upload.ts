import { randomUUID } from "node:crypto";
import type { S3Client } from "./client.ts";

/** S3 needs parts of 5 MiB or more (but the last); 8 MiB is the usual choice and our threshold. */
export const PART_BYTES = 8 << 20;

/** Marks an unfinished multipart upload: S3 lists no such upload as an object, so the sweep would not see it. */
export const MARKER = ".upload";

/**
 * Streams a source into one object. Up to PART_BYTES it is one PUT; past that a multipart
 * upload, one part in memory at a time. A multipart upload first writes a marker object under
 * `tmpPrefix` naming the upload, so that a crash leaves something the next sweep finds and
 * aborts (ListMultipartUploads is optional on S3-compatible servers). The object appears
 * whole when the upload completes, or not at all.
 */
export async function uploadStream(
  s3: S3Client,
  key: string,
  source: AsyncIterable<Uint8Array>,
  options: {
    tmpPrefix: string;
    /** Called with every chunk before it is sent; a throw stops the upload and keeps nothing. */
    onChunk?: (chunk: Uint8Array) => void;
    /** Starts the multipart upload (and its marker) at once, so even a slow start is visible. */
    multipartFromStart?: boolean;
  },
): Promise<{ size: number; small: Uint8Array | null }> {
  // Grows as bytes come, up to one part: a small upload does not cost 8 MiB of memory.
  let part = new Uint8Array(64 * 1024);
  let filled = 0;
  let size = 0;
  let upload: { id: string; marker: string; etags: string[] } | null = null;

  const start = async () => {
    const id = await s3.createMultipart(key);
    const marker = `${options.tmpPrefix}${randomUUID()}${MARKER}`;
    upload = { id, marker, etags: [] };
    await s3.put(marker, new TextEncoder().encode(`${key}\n${id}\n`));
    return upload;
  };
  const flush = async () => {
    const u = upload ?? (await start());
    u.etags.push(await s3.uploadPart(key, u.id, u.etags.length + 1, part.subarray(0, filled)));
    // The request has ended (answered or given up), so the buffer is free for the next part.
    filled = 0;
  };

  try {
    if (options.multipartFromStart) await start();
    for await (const chunk of source) {
      options.onChunk?.(chunk);
      size += chunk.byteLength;
      let offset = 0;
      while (offset < chunk.byteLength) {
        const n = Math.min(PART_BYTES - filled, chunk.byteLength - offset);
        if (filled + n > part.byteLength) {
          const bigger = new Uint8Array(Math.min(PART_BYTES, Math.max(part.byteLength * 2, filled + n)));
          bigger.set(part.subarray(0, filled));
          part = bigger;
        }
        part.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === PART_BYTES) await flush();
      }
    }
    const u = upload as { id: string; marker: string; etags: string[] } | null;
    if (!u) {
      const whole = part.slice(0, filled);
      await s3.put(key, whole);
      return { size, small: whole };
    }
    if (filled > 0 || u.etags.length === 0) await flush();
    // The marker is the upload's claim: a sweep that removed it (this process was taken for
    // dead) has aborted the upload, or tried to on a server that cannot; then nothing appears.
    if ((await s3.head(u.marker)) === null) throw new Error(`upload to ${key} was swept by a restart`);
    await s3.completeMultipart(key, u.id, u.etags);
    await s3.delete(u.marker);
    return { size, small: null };
  } catch (err) {
    const u = upload as { id: string; marker: string } | null;
    if (u) {
      await s3.abortMultipart(key, u.id).catch(() => {});
      await s3.delete(u.marker).catch(() => {});
    }
    throw err;
  }
}

/**
 * At start: aborts the multipart uploads that markers under `tmpPrefix` name and removes the
 * markers and other temp objects older than `graceMs` (younger ones may belong to another node
 * at work on the same bucket). Returns how many it removed.
 */
export async function sweepTemp(
  s3: S3Client,
  tmpPrefix: string,
  graceMs: number,
  skip: (key: string) => boolean = () => false,
) {
  let removed = 0;
  const cutoff = Date.now() - graceMs;
  for await (const o of s3.list(tmpPrefix)) {
    if (skip(o.key) || o.lastModified > cutoff) continue;
    if (o.key.endsWith(MARKER)) {
      const body = await s3.get(o.key);
      const [key, id] = (body ? await body.text() : "").split("\n");
      if (key && id) await s3.abortMultipart(key, id);
    }
    await s3.delete(o.key);
    removed++;
  }
  return removed;
}
