// The storage drivers' contract: bytes go in as streams and come out as streams or response
// bodies, named by keys (a blob's SHA-256, a variant's cache key). No filesystem path crosses
// it, so an object store can implement it as well as the local disk (src/store/fs/).

/** Stored bytes, ready to be sent or read. */
export interface StoredObject {
  readonly size: number;
  /**
   * A body for one response. The driver picks the cheapest form its runtime can send (a file
   * the server sends with sendfile, a stream from an object store); call once per response.
   */
  body(): BodyInit;
  /** The bytes as a stream, for callers that process them (ZIP downloads). */
  stream(): ReadableStream<Uint8Array>;
  /**
   * Remote stores: a body for one response, its source opened now. It rejects when the store
   * does not answer or holds another size, so a response's status is sent only once its bytes
   * are on their way; the stream yields exactly `size` bytes, or errors. Absent: `body()` is
   * local and cheap to start.
   */
  open?(): Promise<BodyInit>;
}

/**
 * Bytes received and hashed but not yet stored under their hash. The caller owns it: it must
 * end in `commit` or `discard`. `discard` may be called any number of times, and after
 * `commit` it does nothing, so a `finally` can always call it.
 */
export interface StagedBlob {
  readonly hash: string;
  readonly size: number;
  /** The first bytes (up to 1 MiB), for sniffing the format without reading it all again. */
  readonly head: Uint8Array;
  /** The last bytes (up to 8 KiB), for checking that the file is not cut off. */
  readonly tail: Uint8Array;
  /** All the staged bytes (for the decode check and metadata reading before commit). */
  read(): Promise<Uint8Array>;
  /**
   * Stores the bytes under their hash (unless that content is stored already) and keeps the
   * staged copy: done before the database transaction that adds the rows, so that no lock or
   * transaction waits on the store. Readers see the blob from now on.
   */
  place(): Promise<void>;
  /**
   * After the rows are committed (calls `place` first if not done): stores the bytes again if
   * they went missing meanwhile (a sweep or a deletion took an unused blob away), then drops
   * the staged copy.
   */
  commit(): Promise<void>;
  /** Drops the staged copy; a placed blob stays (a sweep removes it if no row names it). */
  discard(): Promise<void>;
}

export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`larger than ${limit} bytes`);
  }
}

/**
 * Content-addressed originals. Deletion comes in two steps so that it can follow a database
 * transaction: `trash` inside it, then `purge` after the commit or `restore` after a rollback.
 */
export interface BlobStore {
  /** Receives a stream while hashing it; more than `maxBytes` throws BlobTooLargeError and keeps nothing. */
  stage(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<StagedBlob>;
  /** All bytes of a stored blob (codec input). */
  read(hash: string): Promise<Uint8Array>;
  /** A stored blob to send or stream; null when there is none. */
  open(hash: string): Promise<StoredObject | null>;
  exists(hash: string): Promise<boolean>;
  trash(hash: string): Promise<void>;
  restore(hash: string): Promise<void>;
  purge(hash: string): Promise<void>;
  /**
   * At start, before any other use: removes leftovers of interrupted work (partial stages),
   * restores trashed blobs a row still uses, and removes stored blobs the caller does not know.
   */
  sweep(isKnown: (hash: string) => Promise<boolean>): Promise<{ removed: number }>;
}

/** Transformed images by cache key; which keys exist and their order of use is the cache's index (VariantIndex). */
export interface VariantStore {
  /** Stores bytes under a key, whole: a reader sees all of them or none. Replaces what was there. */
  put(key: string, data: Uint8Array): Promise<void>;
  open(key: string): Promise<StoredObject | null>;
  delete(keys: string[]): Promise<void>;
  /** At start: removes partial writes and stored variants the index does not know. */
  sweep(isKnown: (key: string) => Promise<boolean>): Promise<{ removed: number }>;
}

/** Files imgd makes for people to download (ZIPs of originals), by name. */
export interface ArchiveStore {
  /** Stores a stream under a name, whole: a reader sees all of it or nothing. Returns its size. */
  put(name: string, source: AsyncIterable<Uint8Array>): Promise<number>;
  open(name: string): Promise<StoredObject | null>;
  delete(name: string): Promise<void>;
  /** At start: removes partial writes. */
  sweep(): Promise<{ removed: number }>;
}

/**
 * The parts of resumable uploads, by upload id and part name, kept apart from the blobs until
 * the upload is whole (then streamed, in order, into `BlobStore.stage`) or abandoned.
 */
export interface PartStore {
  /** Stores one part whole (a reader sees all of it or nothing); a source that throws keeps nothing. Returns its size. */
  put(uploadId: string, name: string, source: AsyncIterable<Uint8Array>): Promise<number>;
  /** One part's bytes. */
  stream(uploadId: string, name: string): ReadableStream<Uint8Array>;
  delete(uploadId: string, name: string): Promise<void>;
  /** Removes every part of an upload, recorded or not (one a crash cut short). */
  clear(uploadId: string): Promise<void>;
  /** The ids of the uploads that have parts stored. */
  uploads(): AsyncIterable<string>;
}

/** What upload ids and part names may be: they become path segments and object keys. */
export const PART_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function checkPartName(...names: string[]) {
  for (const n of names) if (!PART_NAME.test(n)) throw new Error(`not an upload or part name: ${n}`);
}
