import type { CodecPool } from "../../codecs/pool.ts";
import type { TransformSpec } from "../../codecs/types.ts";
import type { Image, User } from "../db/schema.ts";
import { AppError } from "../domain/errors.ts";
import type { Images } from "../domain/images.ts";
import { extensionOf } from "../domain/paths.ts";
import type { Presets } from "../domain/presets.ts";
import type { Users } from "../domain/users.ts";
import type { BlobStore } from "../store/blobs.ts";
import type { VariantCache } from "../store/variants.ts";
import { HotRoutes } from "./hot.ts";
import { MemoryCache } from "./memory.ts";
import { nativeSpec, parseParams, splitQuery } from "./native.ts";
import { verify } from "./signing.ts";
import { EXT_FORMAT, finalize, variantKey } from "./spec.ts";

/** What to send: a file on disk (original or cached variant) or freshly made bytes. */
export interface Delivered {
  etag: string;
  mime: string;
  size: number;
  /** Set for private images: a shared cache must not keep them. */
  privateUntil?: number;
  file?: string;
  bytes?: Uint8Array;
  cache: "original" | "hit" | "miss";
  userId: string;
}

export interface DeliveryDeps {
  users: Users;
  images: Images;
  presets: Presets;
  blobs: BlobStore;
  variants: VariantCache;
  pool: CodecPool;
  /** Takes one transformation from the tenant's plan (throws when none is left); returns its refund. */
  admitTransformation: (userId: string) => Promise<() => Promise<void>>;
  /** A variant was produced: its output format and how long the transform took. */
  onTransformed?: (format: string, seconds: number) => void;
  secret: Uint8Array;
  now: () => number;
  maxOutputPixels: number;
  /** Bytes of small hot variants kept in memory (IMGD_MEMORY_CACHE_BYTES); 0 keeps none. */
  memoryCacheBytes?: number;
}

/**
 * resolve path → check access → parse options into the canonical spec → cached variant, or
 * one transform per variant however many ask at once (single flight) → store → serve.
 */
export class Delivery {
  readonly #flights = new Map<string, Promise<Delivered>>();
  readonly #hot: HotRoutes;
  readonly #memory: MemoryCache;

  constructor(private readonly d: DeliveryDeps) {
    this.#hot = new HotRoutes(d.now);
    this.#memory = new MemoryCache(d.memoryCacheBytes ?? 0);
  }

  /** A tenant's images, settings or presets changed: answers remembered for its URLs are stale. */
  forgetUser(userId: string) {
    this.#hot.forgetUser(userId);
  }

  /** Variants left the cache (evicted or deleted). */
  forgetVariants(keys: string[]) {
    this.#hot.forgetVariants(keys);
    this.#memory.forget(keys);
  }

  /** The remembered answer for a URL, if any: no database, no parsing (the hot path). */
  peek(username: string, path: string, search: string): Delivered | undefined {
    const hot = this.#hot.get(`${username}/${path}?${search}`);
    if (!hot) return undefined;
    if (hot.presetId) this.d.presets.countUseLater(hot.presetId);
    return (hot.variantKey && this.#memory.get(hot.variantKey)) || hot.delivered;
  }

  /** `owner`: the tenant itself asks (with its key), so private images need no signature. */
  async native(username: string, path: string, search: URLSearchParams, ifNoneMatch: (etag: string) => boolean, opts: { owner?: boolean } = {}): Promise<Delivered | "not-modified"> {
    const hotKey = `${username}/${path}?${search}`;
    const hot = this.peek(username, path, search.toString());
    if (hot) return ifNoneMatch(hot.etag) ? "not-modified" : hot;
    const result = await this.#native(username, path, search, ifNoneMatch, opts.owner ?? false);
    // Remember public answers that are files on disk; fresh bytes become a cache hit next time.
    if (result.delivered && result.delivered !== "not-modified" && result.delivered.file && result.delivered.privateUntil === undefined) {
      // Without the bytes: memory holds them only while the memory cache keeps the variant.
      const { bytes: _, ...onDisk } = result.delivered;
      this.#hot.set(hotKey, { delivered: onDisk, variantKey: result.variantKey, presetId: result.presetId }, result.until);
    }
    return result.delivered;
  }

  async #native(
    username: string,
    path: string,
    search: URLSearchParams,
    ifNoneMatch: (etag: string) => boolean,
    owner: boolean,
  ): Promise<{ delivered: Delivered | "not-modified"; variantKey?: string; presetId?: string; until?: number }> {
    const user = await this.d.users.byUsername(username);
    const found = user && (await this.d.images.resolvePath(user.id, path));
    if (!found) throw new AppError("NOT_FOUND", "Image not found");
    const { image } = found;
    const query = splitQuery(search);
    // The owner's private images stay private in shared caches (and out of the hot path).
    const privateUntil = owner ? (image.visibility === "public" ? undefined : this.d.now() + 365 * 86_400_000) : this.#checkAccess(user, image, path, search);

    const presetRow = query.preset !== undefined ? await this.d.presets.byName(user.id, query.preset) : undefined;
    if (query.preset !== undefined && !presetRow) throw new AppError("NOT_FOUND", `No preset named '${query.preset}'`);
    const preset = presetRow ? parseParams(JSON.parse(presetRow.params), `preset ${presetRow.name}`) : undefined;
    const params = parseParams(query.params);
    const ext = extensionOf(path);
    const requested = ext ? (EXT_FORMAT[ext] ?? null) : null;
    const raw = nativeSpec(params, preset, requested, image, {
      fit: user.default_fit_mode,
      quality: user.default_quality,
      maxWidth: user.default_max_width,
      maxHeight: user.default_max_height,
    });
    const presetId = presetRow?.id;
    if (presetId) this.d.presets.countUseLater(presetId);

    if (!raw) {
      const etag = `"${image.blob_hash}"`;
      if (ifNoneMatch(etag)) return { delivered: "not-modified" };
      const file = this.d.blobs.path(image.blob_hash);
      return { delivered: { etag, mime: image.mime_type, size: image.size, file, cache: "original", privateUntil, userId: user.id }, presetId, until: image.expires_at ?? undefined };
    }
    const spec = finalize(raw, image, this.d.maxOutputPixels);
    const delivered = await this.variant(user.id, image, spec, ifNoneMatch, privateUntil);
    // An image with a TTL is gone at its expiry: a remembered answer must not outlive it.
    return { delivered, variantKey: variantKey(image.blob_hash, spec), presetId, until: image.expires_at ?? undefined };
  }

  /** Serves one variant of an image; shared by every URL dialect. */
  async variant(userId: string, image: Image, spec: TransformSpec, ifNoneMatch: (etag: string) => boolean, privateUntil?: number): Promise<Delivered | "not-modified"> {
    const key = variantKey(image.blob_hash, spec);
    const etag = `"${key}"`;
    // The key says everything about the bytes: no need to look at the disk to answer a 304.
    if (ifNoneMatch(etag)) return "not-modified";
    const inMemory = this.#memory.get(key);
    if (inMemory) return privateUntil === undefined ? inMemory : { ...inMemory, privateUntil };
    const cached = await this.d.variants.get(key);
    if (cached) {
      this.#memory.fill(key, { etag, mime: cached.mime, size: cached.size, file: cached.path, userId });
      return { etag, mime: cached.mime, size: cached.size, file: cached.path, cache: "hit", privateUntil, userId };
    }
    let flight = this.#flights.get(key);
    if (!flight) {
      flight = this.#produce(userId, image, spec, key, etag).finally(() => this.#flights.delete(key));
      this.#flights.set(key, flight);
    }
    return { ...(await flight), privateUntil };
  }

  async #produce(userId: string, image: Image, spec: TransformSpec, key: string, etag: string): Promise<Delivered> {
    // Counted when produced, never when served from cache (the reference's FAQ); taken before
    // the work so concurrent misses cannot overshoot the plan, given back if the work fails.
    const refund = await this.d.admitTransformation(userId);
    let out;
    try {
      const started = performance.now();
      // Read when a worker takes the job, so queued jobs hold no image bytes.
      out = await this.d.pool.transform(() => this.d.blobs.read(image.blob_hash), spec, { transfer: true });
      this.d.onTransformed?.(out.mime.slice(out.mime.indexOf("/") + 1), (performance.now() - started) / 1000);
    } catch (err) {
      await refund().catch(() => {});
      throw err;
    }
    const since = this.#memory.epoch();
    await this.d.variants.put(key, image.blob_hash, out.data, { mime: out.mime, width: out.width, height: out.height });
    this.#memory.set(key, since, { etag, mime: out.mime, file: this.d.variants.path(key), bytes: out.data, userId });
    return { etag, mime: out.mime, size: out.data.byteLength, bytes: out.data, cache: "miss", userId };
  }

  /** Public images need nothing; private ones a valid, unexpired signature. Returns its expiry. */
  #checkAccess(user: User, image: Image, path: string, search: URLSearchParams): number | undefined {
    if (image.visibility === "public") return undefined;
    const check = verify(this.d.secret, user.username, path, search, this.d.now());
    if (check === "valid") return Number(search.get("expires")) * 1000;
    const why = {
      missing: "This image is private: use a signed URL (POST /api/v1/images/{id}/signed-url)",
      expired: "This signed URL has expired: request a new one",
      invalid: "This signed URL is not valid for this path and these options",
    }[check];
    throw new AppError("FORBIDDEN", why);
  }
}
