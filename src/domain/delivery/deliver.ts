import type { CodecPool } from "../../../codecs/pool.ts";
import { createHash } from "node:crypto";
import type { OutputFormat, TransformInput, TransformSpec } from "../../../codecs/types.ts";
import type { Image, Preset, User } from "../../db/schema.ts";
import { AppError, invalid } from "../errors.ts";
import type { Images } from "../library/images.ts";
import type { Presets } from "../library/presets.ts";
import type { Feature } from "../metering/plans.ts";
import type { Users } from "../accounts/users.ts";
import type { BlobStore, StoredObject } from "../../store/types.ts";
import type { VariantCache } from "../../store/variants.ts";
import type { Bus } from "../../db/bus.ts";
import type { Leases } from "../../db/leases.ts";
import type { MissBudget } from "./budget.ts";
import { HotRoutes } from "./hot.ts";
import { MemoryCache } from "./memory.ts";
import type { Placeholders } from "./placeholders.ts";
import type { SignaturePurpose } from "./signing.ts";
import type { Access, Asks, Grant, Requester } from "./access.ts";
import { extensionOf } from "../library/paths.ts";
import { deliveryFormatsOf, negotiate } from "./negotiate.ts";
import { finalize, variantKey } from "./spec.ts";

const URL_MARK_TTL_MS = 60_000;

/** Takes what making one new variant costs (see `#admit`); returns its refund. */
type Admit = () => Promise<() => Promise<void>>;
const MAX_URL_MARKS = 16;

/** What to send: stored bytes (original or cached variant) or freshly made bytes. */
export interface Delivered {
  etag: string;
  mime: string;
  size: number;
  /** Set for private images: a shared cache must not keep them. */
  privateUntil?: number;
  object?: StoredObject;
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
  /**
   * Takes one transformation from the tenant's plan (throws when none is left); returns its
   * refund. `anonymous`: not the owner's own request, which may use only the part of the plan
   * not kept for the owner.
   */
  admitTransformation: (userId: string, anonymous: boolean) => Promise<() => Promise<void>>;
  /** New variants per client address for anonymous callers (IMGD_MISS_RATE); absent: unlimited. */
  missBudget?: MissBudget;
  /** Refuses (400) a transform that would hold a worker too long (IMGD_MAX_TRANSFORM_COST). */
  checkCost?: (spec: TransformSpec, image: Image) => void;
  /** Takes one view from the tenant's plan (AssetsRepo); returns its refund. */
  admitView: (user: User) => Promise<() => Promise<void>>;
  /** An image was served (not a 304): usage and telemetry count it here, once per delivery. */
  onServed?: (d: Delivered) => void;
  /** Throws when the owner's plan lacks the feature (presets in URLs). */
  requireFeature: (user: User, feature: Feature) => void;
  /** A variant was produced: its output format and how long the transform took. */
  onTransformed?: (format: string, seconds: number) => void;
  /** Who may see which pixels, and what unsigned URLs may ask (access.ts). */
  access: Access;
  now: () => number;
  maxOutputPixels: number;
  /** Bytes of small hot variants kept in memory (IMGD_MEMORY_CACHE_BYTES); 0 keeps none. */
  memoryCacheBytes?: number;
  placeholders: Placeholders;
  /** A watermark's bytes from a URL, through the SSRF-safe fetcher; absent: refused. */
  fetchWatermark?: (url: string) => Promise<Uint8Array>;
  /** Tells other nodes what to forget, and hears what they changed. */
  bus: Bus;
  /** One node makes a new variant, however many nodes are asked for it at once. */
  leases: Leases;
  /** How long a claim on making a variant lasts unrenewed (a dead node's is taken over after it). */
  leaseMs: number;
  /** How long to wait for another node making a variant before answering 503. */
  waitMs: number;
}

/** Watermark bytes and their identity (sha256), which goes into the spec and so the variant key. */
export interface WatermarkBytes {
  hash: string;
  bytes: Uint8Array;
}

/** What a dialect's URL parser makes of the options, once the image is known. */
export interface DeliverySpec {
  /** null: the stored bytes answer the request as they are. */
  spec: TransformSpec | null;
  /** The tenant preset the URL used, counted as used. */
  presetId?: string;
  /** Bytes the transform needs besides the source (a watermark image). */
  input?: TransformInput;
}

/** One delivery, as a dialect's URL says it; `O` is what its URL parser reads first. */
export interface DeliveryRequest<O = unknown> {
  /** The tenant (by username) and the image's path. */
  username: string;
  path: string;
  /**
   * Who may see the image: `signed` anyone when public, a valid signature of `search` when
   * private; `owner` the tenant itself (private stays private in shared caches); `public` only
   * public images.
   */
  access: "signed" | "owner" | "public";
  /** The URL's query: what a signature covers. */
  search?: URLSearchParams;
  /** What the signature covers instead of `path`, where the URL writes more (Imgwire's `@preset`). */
  signedPath?: string;
  /** Which dialect's signature `search` may carry (default: a native delivery URL's). */
  signature?: SignaturePurpose;
  /** Who asks (the owner by key or session, or an anonymous address with its miss budget). */
  requester?: Requester;
  /**
   * What the URL asks beyond the stored image, for IMGD_TRANSFORMS: `original` (no options),
   * `preset` (a named preset only) or `options` (the default).
   */
  asks?: Asks;
  /** Counts a view against the plan (AssetsRepo), given back if the delivery fails. */
  countView?: boolean;
  /** Reads the URL's options once the image is found, before access is checked (a bad option is a 400 either way). */
  options?: () => O;
  /** The dialect's options into the canonical spec (not yet clamped to the source). */
  spec: (ctx: SpecContext, options: O) => DeliverySpec | Promise<DeliverySpec>;
  /** The 404's message when the path names no image. */
  notFound?: string;
  ifNoneMatch: (etag: string) => boolean;
  /** Remember a public answer under this key (the URL) for the hot path. */
  hotKey?: string;
  /** The client's Accept header: what a negotiated format (`format=auto` and kin) chooses from. */
  accept?: string | null;
  /**
   * The URL itself asks for a negotiated format, so `hotKey` already holds the Accept class.
   * An answer negotiated without it (a preset's `format: auto`) is not remembered.
   */
  varies?: boolean;
  /** Set by the delivery when the answer depended on Accept: the response must say `Vary: Accept`. */
  negotiated?: boolean;
}

export interface SpecContext {
  user: User;
  image: Image;
  /** A tenant preset by name: `preset p:name not found` is the dialect's to say. */
  preset: (name: string) => Promise<Preset | undefined>;
  /** The output format for a negotiated request: Accept within the tenant's `delivery_formats`. */
  negotiate: () => OutputFormat;
  /** Another live image of the same tenant, by id, as a watermark (404 when there is none). */
  watermarkImage: (id: string) => Promise<WatermarkBytes>;
  /** An image from a URL, as a watermark. */
  watermarkUrl: (url: string) => Promise<WatermarkBytes>;
}

/**
 * One pipeline for every URL dialect: resolve the path → check access → meter admission
 * (views) → the dialect's options into the canonical spec → the original, a cached variant,
 * or one transform per variant however many ask at once (single flight) → meter what was
 * served. Dialects only parse their URLs and word the errors.
 */
export class Delivery {
  readonly #flights = new Map<string, Promise<Delivered>>();
  readonly #hot: HotRoutes<Delivered>;
  readonly #memory: MemoryCache;
  /**
   * Watermarks fetched from URLs, by URL, for a minute: a cached variant still needs the mark's
   * hash for its key, and one fetch per request would make every hit wait on another host.
   */
  readonly #marks = new Map<string, { until: number; mark: Promise<WatermarkBytes> }>();

  constructor(private readonly d: DeliveryDeps) {
    this.#hot = new HotRoutes(d.now);
    this.#memory = new MemoryCache(d.memoryCacheBytes ?? 0);
    d.bus.subscribe((change) => {
      if (change.kind === "user") this.#hot.forgetUser(change.id);
      else if (change.kind === "variants") this.#forgetVariants(change.keys);
      else {
        this.#hot.clear();
        this.#memory.forget(this.#memory.keys());
      }
    });
  }

  /** A tenant's images, settings or presets changed: answers remembered for its URLs are stale, here and on every node. */
  forgetUser(userId: string) {
    this.#hot.forgetUser(userId);
    this.d.bus.publish({ kind: "user", id: userId });
  }

  /** Variants left the cache (evicted or deleted), here and on every node. */
  forgetVariants(keys: string[]) {
    this.#forgetVariants(keys);
    this.d.bus.publish({ kind: "variants", keys });
  }

  #forgetVariants(keys: string[]) {
    this.#hot.forgetVariants(keys);
    this.#memory.forget(keys);
  }

  /**
   * The remembered answer for a URL (`hotKey`), if any: no database, no parsing (the hot
   * path). Metered like any delivery.
   */
  fast(hotKey: string, ifNoneMatch: (etag: string) => boolean): Delivered | "not-modified" | undefined {
    const hot = this.#hot.get(hotKey);
    if (!hot) return undefined;
    const delivered = (hot.variantKey && this.#memory.get(hot.variantKey)) || hot.delivered;
    // Remembered from a memory hit, without a stored object: once memory dropped the bytes,
    // the long way opens the stored variant (and remembers that).
    if (!delivered.object && !delivered.bytes) return undefined;
    if (hot.presetId) this.d.presets.countUseLater(hot.presetId);
    return this.#served(ifNoneMatch(delivered.etag) ? "not-modified" : delivered);
  }

  async deliver<O>(req: DeliveryRequest<O>): Promise<Delivered | "not-modified"> {
    if (req.hotKey) {
      const hot = this.fast(req.hotKey, req.ifNoneMatch);
      if (hot) return hot;
    }
    const since = this.#hot.epoch();
    const user = await this.d.users.byUsername(req.username);
    const found = user && (await this.d.images.resolvePath(user.id, req.path));
    if (!found) throw new AppError("NOT_FOUND", req.notFound ?? "Image not found");
    const { image } = found;
    const options = req.options?.() as O;
    const grant = await this.d.access.see(req, user, image);
    await this.d.access.transforms(grant, user, asksOf(req, found.path));
    const refund = req.countView ? await this.d.admitView(user) : undefined;
    try {
      const result = await this.#deliver(req, user, image, options, grant);
      // Remember public answers that are stored (on disk or in memory); fresh bytes become a
      // cache hit next time.
      if (
        req.hotKey &&
        result.delivered !== "not-modified" &&
        (result.delivered.object || result.delivered.cache === "hit") &&
        result.delivered.privateUntil === undefined &&
        // Only what anyone may have: an answer given for a signature or to the owner
        // (transforms an unsigned URL may not ask) must not reach others by the hot path.
        grant.caller === "anonymous" &&
        (req.varies || !req.negotiated)
      ) {
        // Without the bytes: memory holds them only while the memory cache keeps the variant.
        const { bytes: _, ...stored } = result.delivered;
        this.#hot.set(
          req.hotKey,
          { delivered: stored, variantKey: result.variantKey, presetId: result.presetId },
          image.expires_at ?? undefined,
          since,
        );
      }
      return this.#served(result.delivered);
    } catch (err) {
      await refund?.().catch(() => {});
      throw err;
    }
  }

  /**
   * The image's placeholder (`?placeholder`): a tiny blurred PNG rendered from its ThumbHash,
   * under the same access rules as the image; the ThumbHash is made now if the image has none.
   */
  async placeholder<O>(req: DeliveryRequest<O>): Promise<Delivered | "not-modified"> {
    const user = await this.d.users.byUsername(req.username);
    const found = user && (await this.d.images.resolvePath(user.id, req.path));
    if (!found) throw new AppError("NOT_FOUND", req.notFound ?? "Image not found");
    const { image } = found;
    req.options?.();
    const { privateUntil } = await this.d.access.see(req, user, image);
    const { png, etag } = this.d.placeholders.png(await this.d.placeholders.thumbhash(image));
    if (req.ifNoneMatch(etag)) return "not-modified";
    return this.#served({
      etag,
      mime: "image/png",
      size: png.byteLength,
      bytes: png,
      cache: "hit",
      privateUntil,
      userId: user.id,
    });
  }

  #served(d: Delivered | "not-modified"): Delivered | "not-modified" {
    if (d !== "not-modified") this.d.onServed?.(d);
    return d;
  }

  async #deliver<O>(
    req: DeliveryRequest<O>,
    user: User,
    image: Image,
    options: O,
    grant: Grant,
  ): Promise<{ delivered: Delivered | "not-modified"; variantKey?: string; presetId?: string }> {
    const preset = (name: string) => {
      this.d.requireFeature(user, "presets");
      return this.d.presets.byName(user.id, name);
    };
    const negotiateFormat = () => {
      req.negotiated = true;
      return negotiate(req.accept, deliveryFormatsOf(user.delivery_formats), image);
    };
    // Images and URLs named inside the URL obey the same rule as the image itself.
    const watermarkImage = async (id: string): Promise<WatermarkBytes> => {
      const mark = await this.d.access.mark(grant, user, await this.d.images.byId(id), id);
      return { hash: mark.blob_hash, bytes: await this.#original(mark.blob_hash) };
    };
    const watermarkUrl = async (url: string, param = "watermark_url"): Promise<WatermarkBytes> => {
      await this.d.access.fetch(grant, user, url, param);
      if (grant.caller !== "anonymous") return this.#watermarkFromUrl(url);
      // An anonymous caller learns nothing of the other host: not what its name resolves to,
      // nor whether or how it answered.
      return this.#watermarkFromUrl(url).catch(() => {
        throw invalid(param, "the image at this URL could not be used");
      });
    };
    const {
      spec: raw,
      presetId,
      input,
    } = await req.spec({ user, image, preset, negotiate: negotiateFormat, watermarkImage, watermarkUrl }, options);
    if (presetId) this.d.presets.countUseLater(presetId);
    // Read after the spec: a private image named inside the URL makes the answer private too.
    const { privateUntil } = grant;
    if (!raw) {
      const etag = `"${image.blob_hash}"`;
      if (req.ifNoneMatch(etag)) return { delivered: "not-modified" };
      const object = await this.d.blobs.open(image.blob_hash);
      if (!object) throw new AppError("NOT_FOUND", "Image not found");
      return {
        delivered: {
          etag,
          mime: image.mime_type,
          size: object.size,
          object,
          cache: "original",
          privateUntil,
          userId: user.id,
        },
        presetId,
      };
    }
    const spec = finalize(raw, image, this.d.maxOutputPixels);
    const key = variantKey(image.blob_hash, spec);
    // Only what is about to be made is checked: a variant already cached is served whatever it cost.
    const admit = () => {
      this.d.checkCost?.(spec, image);
      return this.#admit(req, user, grant);
    };
    const delivered = await this.#variant(user.id, image, spec, key, req.ifNoneMatch, privateUntil, input, admit);
    return { delivered, variantKey: key, presetId };
  }

  #watermarkFromUrl(url: string): Promise<WatermarkBytes> {
    const fetchWatermark = this.d.fetchWatermark;
    if (!fetchWatermark)
      return Promise.reject(new AppError("VALIDATION_ERROR", "watermark_url: not available on this server"));
    const now = this.d.now();
    const known = this.#marks.get(url);
    if (known && known.until > now) return known.mark;
    for (const [k, v] of this.#marks) if (v.until <= now) this.#marks.delete(k);
    // A few marks at most are in use at once; past that, forget the oldest.
    while (this.#marks.size >= MAX_URL_MARKS) this.#marks.delete(this.#marks.keys().next().value!);
    const mark = fetchWatermark(url).then((bytes) => ({
      hash: createHash("sha256").update(bytes).digest("hex"),
      bytes,
    }));
    this.#marks.set(url, { until: now + URL_MARK_TTL_MS, mark });
    // A failed fetch is not remembered: the next request tries again.
    mark.catch(() => this.#marks.delete(url));
    return mark;
  }

  /** One variant of an image: cached, or made once however many ask at once. */
  async #variant(
    userId: string,
    image: Image,
    spec: TransformSpec,
    key: string,
    ifNoneMatch: (etag: string) => boolean,
    privateUntil: number | undefined,
    input: TransformInput | undefined,
    admit: Admit,
  ): Promise<Delivered | "not-modified"> {
    const etag = `"${key}"`;
    // The key says everything about the bytes: no need to look at the disk to answer a 304.
    if (ifNoneMatch(etag)) return "not-modified";
    const inMemory = this.#memory.get(key);
    if (inMemory) return privateUntil === undefined ? inMemory : { ...inMemory, privateUntil };
    const stored = await this.#stored(key, etag, userId, privateUntil);
    if (stored) return stored;
    let flight = this.#flights.get(key);
    if (!flight) {
      flight = this.#produceOnce(userId, image, spec, key, etag, input, admit).finally(() => this.#flights.delete(key));
      this.#flights.set(key, flight);
    }
    return { ...(await flight), privateUntil };
  }

  /**
   * Single flight across nodes: whoever holds the variant's lease makes it; the others wait
   * until it is stored and serve it from the cache. A node that dies mid-transform stops
   * renewing its lease, and a waiting node takes it over once it expires.
   */
  async #produceOnce(
    userId: string,
    image: Image,
    spec: TransformSpec,
    key: string,
    etag: string,
    input: TransformInput | undefined,
    admit: Admit,
  ): Promise<Delivered> {
    const deadline = Date.now() + this.d.waitMs;
    for (let pause = 20; ; pause = Math.min(pause * 2, 200)) {
      const lease = await this.d.leases.acquire(`variant:${key}`, this.d.leaseMs);
      if (lease) {
        try {
          // Made by another node between our miss and the lease?
          return (
            (await this.#stored(key, etag, userId)) ??
            (await this.#produce(userId, image, spec, key, etag, input, admit))
          );
        } finally {
          await lease.release().catch(() => {});
        }
      }
      if (Date.now() > deadline) {
        throw new AppError("SERVICE_UNAVAILABLE", "This variant is still being made by another node: retry shortly");
      }
      await new Promise((r) => setTimeout(r, pause));
      const stored = await this.#stored(key, etag, userId);
      if (stored) return stored;
    }
  }

  /** The variant from the disk cache, if it is there (and into memory for the next hit). */
  async #stored(key: string, etag: string, userId: string, privateUntil?: number): Promise<Delivered | undefined> {
    const cached = await this.d.variants.get(key);
    if (!cached) return undefined;
    this.#memory.fill(key, { etag, mime: cached.mime, size: cached.size, object: cached.object, userId });
    return { etag, mime: cached.mime, size: cached.size, object: cached.object, cache: "hit", privateUntil, userId };
  }

  async #produce(
    userId: string,
    image: Image,
    spec: TransformSpec,
    key: string,
    etag: string,
    input: TransformInput | undefined,
    admit: Admit,
  ): Promise<Delivered> {
    // Counted when produced, never when served from cache (the reference's FAQ); taken before
    // the work so concurrent misses cannot overshoot the plan, given back if the work fails.
    const refund = await admit();
    let out;
    try {
      const started = performance.now();
      // Read when a worker takes the job, so queued jobs hold no image bytes.
      out = await this.d.pool.transform(() => this.#original(image.blob_hash), spec, { transfer: true, input });
      this.d.onTransformed?.(out.mime.slice(out.mime.indexOf("/") + 1), (performance.now() - started) / 1000);
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
    });
    this.#memory.set(key, since, { etag, mime: out.mime, bytes: out.data, userId });
    return { etag, mime: out.mime, size: out.data.byteLength, bytes: out.data, cache: "miss", userId };
  }

  /**
   * Before a new variant is made: the owner's own requests (its key or session, a URL it
   * signed, its AssetsRepo key) use the whole plan; anyone else spends the address's miss
   * budget and only the share of the plan not kept for the owner.
   */
  async #admit(req: Pick<DeliveryRequest, "requester">, user: User, grant: Grant): Promise<() => Promise<void>> {
    // A valid signature is the owner's word (only its secret makes one).
    const owner = grant.caller !== "anonymous" || (await grant.isOwner());
    if (!owner && req.requester) this.d.missBudget?.take(req.requester.address);
    return this.d.admitTransformation(user.id, !owner);
  }

  /** The original's bytes; gone means its image was deleted while the job waited: a 404, not a 500. */
  async #original(hash: string): Promise<Uint8Array> {
    try {
      return await this.d.blobs.read(hash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT")
        throw new AppError("NOT_FOUND", "Image not found: it was deleted");
      throw err;
    }
  }
}

/**
 * What a request asks for IMGD_TRANSFORMS. A URL without options that names the image by
 * another extension than its stored one asks for a conversion: that is an option too.
 */
function asksOf(req: Pick<DeliveryRequest, "asks" | "path">, storedPath: string): Asks {
  const asks = req.asks ?? "options";
  if (asks !== "original") return asks;
  const ext = extensionOf(req.path);
  return ext === null || ext === extensionOf(storedPath) ? "original" : "options";
}
