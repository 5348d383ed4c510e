import type { StoredObject } from "../../store/types.ts";
import type { Delivered } from "./request.ts";

/**
 * The bytes of small, recently served variants, so a hit is answered from memory rather than
 * from disk. A copy of the disk cache, never a source of truth: entries are keyed by variant
 * key, hold exactly the bytes of the variant's file, and leave when the disk variant leaves
 * (`forget`). Bounded in bytes, least recently used first out, taken first from the tenants
 * holding more than an equal share (one tenant's traffic pushes out its own entries).
 */
export class MemoryTier {
  readonly #map = new Map<string, Delivered>();
  #bytes = 0;
  /** Bytes held per tenant (user id). */
  readonly #held = new Map<string, number>();
  /** Bumped by every removal: a fill that started before one may be stale and is dropped. */
  #epoch = 0;
  readonly #filling = new Set<string>();
  /** Entries larger than this are not kept: a few big files would push out many small ones. */
  readonly maxEntryBytes: number;

  constructor(readonly capBytes: number) {
    this.maxEntryBytes = Math.min(1024 * 1024, Math.floor(capBytes / 16));
  }

  get bytes() {
    return this.#bytes;
  }
  get size() {
    return this.#map.size;
  }

  /** The variant as a hit served from memory, or undefined. */
  get(key: string): Delivered | undefined {
    const d = this.#map.get(key);
    if (!d) return undefined;
    // Re-inserting moves the key to the end: the map's order is the recency order.
    this.#map.delete(key);
    this.#map.set(key, d);
    return d;
  }

  /** Where a removal can race a fill, take the epoch before the bytes were known to be on disk. */
  epoch(): number {
    return this.#epoch;
  }

  /** Keeps the variant just stored, unless a removal happened since `since`. */
  set(key: string, since: number, d: { etag: string; mime: string; bytes: Uint8Array; userId: string }) {
    if (this.capBytes === 0 || d.bytes.byteLength > this.maxEntryBytes || since !== this.#epoch) return;
    this.#drop(key);
    this.#map.set(key, {
      etag: d.etag,
      mime: d.mime,
      size: d.bytes.byteLength,
      bytes: d.bytes,
      cache: "hit",
      userId: d.userId,
    });
    this.#bytes += d.bytes.byteLength;
    this.#held.set(d.userId, (this.#held.get(d.userId) ?? 0) + d.bytes.byteLength);
    if (this.#bytes > this.capBytes) this.#shrink();
  }

  /** Oldest first among tenants over an equal share of the cap (there is one while over the cap). */
  #shrink() {
    for (const [k, v] of this.#map) {
      if (this.#bytes <= this.capBytes) break;
      if ((this.#held.get(v.userId) ?? 0) > this.capBytes / this.#held.size) this.#drop(k);
    }
    for (const [k] of this.#map) {
      if (this.#bytes <= this.capBytes) break;
      this.#drop(k);
    }
  }

  /** A hit served from disk: read it into memory in the background, for the next one. */
  fill(key: string, d: { etag: string; mime: string; size: number; object: StoredObject; userId: string }) {
    if (this.capBytes === 0 || d.size > this.maxEntryBytes || this.#map.has(key) || this.#filling.has(key)) return;
    const since = this.#epoch;
    this.#filling.add(key);
    new Response(d.object.stream())
      .arrayBuffer()
      .then((b) => {
        const bytes = new Uint8Array(b);
        // A file replaced or cut short since the index said its size is not what we serve.
        if (bytes.byteLength === d.size) this.set(key, since, { etag: d.etag, mime: d.mime, userId: d.userId, bytes });
      })
      .catch(() => {})
      .finally(() => this.#filling.delete(key));
  }

  /** The disk variants are gone (evicted, deleted with their image): so are their copies. */
  forget(keys: Iterable<string>) {
    this.#epoch++;
    for (const k of keys) this.#drop(k);
  }

  keys(): string[] {
    return [...this.#map.keys()];
  }

  #drop(key: string) {
    const d = this.#map.get(key);
    if (!d) return;
    this.#map.delete(key);
    this.#bytes -= d.size;
    const held = (this.#held.get(d.userId) ?? 0) - d.size;
    if (held > 0) this.#held.set(d.userId, held);
    else this.#held.delete(d.userId);
  }
}
