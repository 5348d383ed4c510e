import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { FileBody } from "./fs/files.ts";
import { openFsStorage } from "./fs/index.ts";
import { LocalVariantStore } from "./local-variant-store.ts";
import { openS3Storage, parseS3Url } from "./s3/index.ts";
import type { ArchiveStore, BlobStore, PartStore, VariantStore } from "./types.ts";

export type * from "./types.ts";
export { BlobTooLargeError } from "./types.ts";

export interface Storage {
  blobs: BlobStore;
  variants: VariantStore;
  archives: ArchiveStore;
  /** Parts of resumable uploads in progress. */
  parts: PartStore;
  /** "filesystem" or "s3", for /health. */
  kind: "filesystem" | "s3";
  /** Where, without credentials: the data directory or s3://bucket/prefix. */
  location: string;
  /** Resolves when the storage answers; rejects with why not (for /ready). */
  ping(): Promise<void>;
  /**
   * Removes leftovers of uploads and downloads that failed midway: staged objects, and blobs
   * no row names (`known` says which are named). Returns how many went.
   */
  sweep(known: (hash: string) => Promise<boolean>): Promise<number>;
}

export interface StorageOptions {
  dataDir: string;
  fileBody?: FileBody;
  /** `s3://bucket/prefix` (IMGD_STORAGE_URL); none: files under the data directory. */
  url?: string;
  /** Where the AWS_* variables come from. */
  env?: Record<string, string | undefined>;
  /** Bytes of variants kept on local disk in front of S3 (IMGD_LOCAL_CACHE_BYTES); 0: none. */
  localCacheBytes?: number;
  /**
   * The start-up sweep leaves S3 objects younger than this alone, as another node sharing the
   * bucket may be writing them (default 10 minutes).
   */
  sweepGraceMs?: number;
  /** How long an S3 call waits for an answer (IMGD_STORAGE_TIMEOUT_MS). */
  timeoutMs?: number;
}

/**
 * The storage drivers of one imgd: files under the data directory (the default), or an
 * S3-compatible bucket when a storage URL is given.
 */
export async function openStorage(options: StorageOptions): Promise<Storage> {
  if (!options.url) {
    const fs = await openFsStorage(options.dataDir, { fileBody: options.fileBody });
    const dataDir = options.dataDir;
    return {
      ...fs,
      kind: "filesystem",
      location: dataDir,
      ping: async () => void (await stat(dataDir)),
      sweep: (known) => sweepAll(fs, known),
    };
  }
  const loc = parseS3Url(options.url, options.env ?? process.env);
  const s3 = openS3Storage(loc, {
    sweepGraceMs: options.sweepGraceMs ?? 10 * 60_000,
    limits: options.timeoutMs ? { timeoutMs: options.timeoutMs } : {},
  });
  let variants: VariantStore = s3.variants;
  if (options.localCacheBytes) {
    const cache = new LocalVariantStore(
      s3.variants,
      await LocalVariantStore.dirFor(join(options.dataDir, "s3-cache")),
      options.localCacheBytes,
      {
        fileBody: options.fileBody,
      },
    );
    await cache.init();
    variants = cache;
  }
  return {
    blobs: s3.blobs,
    variants,
    archives: s3.archives,
    parts: s3.parts,
    kind: "s3",
    location: `s3://${loc.bucket}/${loc.prefix}`,
    ping: async () => {
      // Any answer but a refusal proves the bucket is reachable with these credentials.
      await s3.s3.head(`${loc.prefix}.imgd-ping`);
    },
    sweep: (known) => sweepAll(s3, known),
  };
}

async function sweepAll(s: Pick<Storage, "blobs" | "archives">, known: (hash: string) => Promise<boolean>) {
  const archives = await s.archives.sweep();
  const blobs = await s.blobs.sweep(known);
  return archives.removed + blobs.removed;
}

/**
 * The storage sweep a running server repeats: leftovers of uploads that failed while S3 or the
 * database was away are removed without waiting for the next start, once older than any
 * upload in progress can be. Files are swept at start only, by the process owning the data
 * directory. Listing a bucket is not free: at most once per `everyMs`.
 */
export function periodicSweep(
  storage: Storage,
  known: (hash: string) => Promise<boolean>,
  everyMs: number,
  log: (line: string) => void,
): () => Promise<void> {
  let sweptAt = 0;
  return async () => {
    if (storage.kind !== "s3" || Date.now() - sweptAt < everyMs) return;
    sweptAt = Date.now();
    const removed = await storage.sweep(known);
    if (removed) log(`storage sweep: removed ${removed} leftover object(s)`);
  };
}
