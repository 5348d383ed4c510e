import type { CodecPool } from "../../../codecs/pool.ts";
import type { TransformInput, TransformSpec } from "../../../codecs/types.ts";
import type { Image } from "../../db/schema.ts";
import type { Leases } from "../../db/leases.ts";
import type { BlobStore } from "../../store/types.ts";
import type { VariantIndex } from "../../store/variant-index.ts";
import { AppError } from "../errors.ts";
import { matchesEtag } from "./etag.ts";
import { MemoryTier } from "./memory-tier.ts";
import type { Delivered } from "./request.ts";

/** One variant to serve or make: what it is, whose, and what making it costs. */
export interface Production {
  userId: string;
  image: Image;
  spec: TransformSpec;
  /** The variant key (blob hash + canonical spec); its ETag is the key quoted. */
  key: string;
  /** Bytes the transform needs besides the source (a watermark image). */
  input?: TransformInput;
  /** The URL (path and query) it is made for: what a CDN purge of the image names. */
  url?: string;
  /** Takes what making it costs (checked only when it is about to be made); returns the refund. */
  admit: () => Promise<() => Promise<void>>;
}

export interface ProducerDeps {
  blobs: BlobStore;
  /** The variant index (database) over the variant store. */
  variants: VariantIndex;
  pool: CodecPool;
  /** Bytes of small hot variants kept in memory (IMGD_MEMORY_CACHE_BYTES); 0 keeps none. */
  memoryBytes: number;
  /** A variant was produced: its output format and how long the transform took. */
  telemetry?: { transformed(format: string, seconds: number): void };
  /** One node makes a new variant, however many nodes are asked for it at once. */
  leases: Leases;
  /** How long a claim on making a variant lasts unrenewed (a dead node's is taken over after it). */
  leaseMs: number;
  /** How long to wait for another node making a variant before answering 503. */
  waitMs: number;
}

/**
 * A variant of an image, from the fastest place that has it: the memory tier, the variant
 * store (through its index), or made now, once however many ask for it on however many nodes.
 */
export class VariantProducer {
  readonly #flights = new Map<string, Promise<Delivered>>();
  readonly #memory: MemoryTier;

  constructor(private readonly d: ProducerDeps) {
    this.#memory = new MemoryTier(d.memoryBytes);
  }

  /** The variant as a memory hit, if the memory tier holds it. */
  inMemory(key: string): Delivered | undefined {
    return this.#memory.get(key);
  }

  /** The variants left the store (evicted or deleted): so do their copies in memory. */
  forget(keys: string[]) {
    this.#memory.forget(keys);
  }

  forgetAll() {
    this.#memory.forget(this.#memory.keys());
  }

  /** The variant (ETag: its key, quoted), or "not-modified" when the client holds it already. */
  async variant(
    p: Production,
    ifNoneMatch: string | null | undefined,
    privateUntil: number | undefined,
  ): Promise<Delivered | "not-modified"> {
    // The key says everything about the bytes: no need to look at the disk to answer a 304.
    if (matchesEtag(ifNoneMatch, `"${p.key}"`)) return "not-modified";
    const inMemory = this.#memory.get(p.key);
    if (inMemory) return privateUntil === undefined ? inMemory : { ...inMemory, privateUntil };
    const stored = await this.#stored(p);
    if (stored) return privateUntil === undefined ? stored : { ...stored, privateUntil };
    let flight = this.#flights.get(p.key);
    if (!flight) {
      flight = this.#produceOnce(p).finally(() => this.#flights.delete(p.key));
      this.#flights.set(p.key, flight);
    }
    return { ...(await flight), privateUntil };
  }

  /** The original's bytes; gone means its image was deleted while the job waited: a 404, not a 500. */
  async original(hash: string): Promise<Uint8Array> {
    try {
      return await this.d.blobs.read(hash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT")
        throw new AppError("NOT_FOUND", "Image not found: it was deleted");
      throw err;
    }
  }

  /**
   * Single flight across nodes: whoever holds the variant's lease makes it; the others wait
   * until it is stored and serve it from the store. A node that dies mid-transform stops
   * renewing its lease, and a waiting node takes it over once it expires.
   */
  async #produceOnce(p: Production): Promise<Delivered> {
    const deadline = Date.now() + this.d.waitMs;
    for (let pause = 20; ; pause = Math.min(pause * 2, 200)) {
      const lease = await this.d.leases.acquire(`variant:${p.key}`, this.d.leaseMs);
      if (lease) {
        try {
          // Made by another node between our miss and the lease?
          return (await this.#stored(p)) ?? (await this.#produce(p));
        } finally {
          await lease.release().catch(() => {});
        }
      }
      if (Date.now() > deadline) {
        throw new AppError("SERVICE_UNAVAILABLE", "This variant is still being made by another node: retry shortly");
      }
      await new Promise((r) => setTimeout(r, pause));
      const stored = await this.#stored(p);
      if (stored) return stored;
    }
  }

  /** The variant from the store, if it is there (and into memory for the next hit). */
  async #stored({ key, userId }: Production): Promise<Delivered | undefined> {
    const cached = await this.d.variants.get(key);
    if (!cached) return undefined;
    const etag = `"${key}"`;
    this.#memory.fill(key, { etag, mime: cached.mime, size: cached.size, object: cached.object, userId });
    return { etag, mime: cached.mime, size: cached.size, object: cached.object, cache: "hit", userId };
  }

  async #produce({ key, userId, image, spec, input, url, admit }: Production): Promise<Delivered> {
    // Counted when produced, never when served from the store (the reference's FAQ); taken
    // before the work so concurrent misses cannot overshoot the plan, given back if it fails.
    const refund = await admit();
    let out;
    try {
      const started = performance.now();
      // Read when a worker takes the job, so queued jobs hold no image bytes.
      out = await this.d.pool.transform(() => this.original(image.blob_hash), spec, { transfer: true, input });
      this.d.telemetry?.transformed(out.mime.slice(out.mime.indexOf("/") + 1), (performance.now() - started) / 1000);
    } catch (err) {
      await refund().catch(() => {});
      throw err;
    }
    const since = this.#memory.epoch();
    await this.d.variants.put(key, image.blob_hash, out.data, {
      mime: out.mime,
      width: out.width,
      height: out.height,
      userId,
      imageId: image.id,
      url,
    });
    const etag = `"${key}"`;
    this.#memory.set(key, since, { etag, mime: out.mime, bytes: out.data, userId });
    return { etag, mime: out.mime, size: out.data.byteLength, bytes: out.data, cache: "miss", userId };
  }
}
