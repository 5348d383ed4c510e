import type { CostEfforts } from "../../../codecs/cost.ts";
import type { Image, User } from "../../db/schema.ts";
import { AppError, invalid } from "../errors.ts";
import type { Images } from "../library/images.ts";
import type { Presets } from "../library/presets.ts";
import type { Metering } from "../metering/metering.ts";
import type { Users } from "../accounts/users.ts";
import type { BlobStore } from "../../store/types.ts";
import type { Bus } from "../../db/bus.ts";
import type { MissBudget } from "./budget.ts";
import { checkTransformCost } from "./cost.ts";
import { HotRoutes } from "./hot-routes.ts";
import type { Placeholders } from "./placeholders.ts";
import type { Access, Asks, Grant } from "./access.ts";
import { extensionOf } from "../library/paths.ts";
import { matchesEtag } from "./etag.ts";
import { deliveryFormatsOf, negotiate } from "./negotiate.ts";
import type { Production, VariantProducer } from "./producer.ts";
import type { Delivered, DeliveryRequest, DeliveryResult, WatermarkBytes } from "./request.ts";
import { finalize, originalEtag, variantKey } from "./spec.ts";
import { UrlMarks } from "./url-marks.ts";

export type {
  Delivered,
  DeliveryAsk,
  DeliveryRequest,
  DeliveryResult,
  DeliverySpec,
  SpecContext,
  WatermarkBytes,
} from "./request.ts";

export interface DeliveryDeps {
  users: Users;
  images: Images;
  presets: Presets;
  blobs: BlobStore;
  /** Cached variants, or new ones made once (stored, produced, leases, single flight). */
  producer: VariantProducer;
  /**
   * The tenant's plan: transformations and views taken before the work (each returns its
   * refund), features (presets in URLs), and what was served.
   */
  metering: Pick<Metering, "admitTransformation" | "admitView" | "requireFeature" | "countDelivery">;
  /** New variants per client address for anonymous callers (IMGD_MISS_RATE); absent: unlimited. */
  missBudget?: MissBudget;
  /** Refuses (400) a transform that would hold a worker too long (IMGD_MAX_TRANSFORM_COST). */
  cost?: { max: number; efforts: CostEfforts };
  /** Counts what was served (not 304s), once per delivery. */
  telemetry?: { delivered(cache: Delivered["cache"], bytes: number): void };
  /** Who may see which pixels, and what unsigned URLs may ask (access.ts). */
  access: Access;
  now: () => number;
  maxOutputPixels: number;
  placeholders: Placeholders;
  /** A watermark's bytes from a URL, through the SSRF-safe fetcher; absent: refused. */
  fetchWatermark?: (url: string) => Promise<Uint8Array>;
  /** Tells other nodes what to forget, and hears what they changed. */
  bus: Bus;
}

/** What `#deliver` found, besides the answer: what the hot path remembers of it. */
interface Answer extends DeliveryResult {
  variantKey?: string;
  presetId?: string;
}

/**
 * One pipeline for every URL dialect: resolve the path → check access → meter admission
 * (views) → the dialect's options into the canonical spec → the original, or a variant from
 * the producer → meter what was served. Dialects only parse their URLs and word the errors.
 * Public answers are remembered by URL (the hot routes), so a repeated URL skips all of it.
 */
export class Delivery {
  readonly #hot: HotRoutes<Delivered>;
  readonly #marks: UrlMarks;

  constructor(private readonly d: DeliveryDeps) {
    this.#hot = new HotRoutes(d.now);
    this.#marks = new UrlMarks(d.fetchWatermark, d.now);
    d.bus.subscribe((change) => {
      if (change.kind === "user") this.#hot.forgetUser(change.id);
      else if (change.kind === "variants") this.#forgetVariants(change.keys);
      else {
        this.#hot.clear();
        this.d.producer.forgetAll();
      }
    });
  }

  /** A tenant's images, settings or presets changed: answers remembered for its URLs are stale, here and on every node. */
  forgetUser(userId: string) {
    this.#hot.forgetUser(userId);
    this.d.bus.publish({ kind: "user", id: userId });
  }

  /** Variants left the store (evicted or deleted), here and on every node. */
  forgetVariants(keys: string[]) {
    this.#forgetVariants(keys);
    this.d.bus.publish({ kind: "variants", keys });
  }

  #forgetVariants(keys: string[]) {
    this.#hot.forgetVariants(keys);
    this.d.producer.forget(keys);
  }

  /**
   * The remembered answer for a URL (`hotKey`), if any: no database, no parsing (the hot
   * path). Metered like any delivery.
   */
  fast(hotKey: string, ifNoneMatch: string | null | undefined): DeliveryResult | undefined {
    const hot = this.#hot.get(hotKey);
    if (!hot) return undefined;
    const delivered = (hot.variantKey && this.d.producer.inMemory(hot.variantKey)) || hot.delivered;
    // Remembered from a memory hit, without a stored object: once memory dropped the bytes,
    // the long way opens the stored variant (and remembers that).
    if (!delivered.object && !delivered.bytes) return undefined;
    if (hot.presetId) this.d.presets.countUseLater(hot.presetId);
    return this.#served({
      delivered: matchesEtag(ifNoneMatch, delivered.etag) ? "not-modified" : delivered,
      etag: delivered.etag,
      varyAccept: hot.varyAccept ?? false,
    });
  }

  async deliver<O>(req: DeliveryRequest<O>): Promise<DeliveryResult> {
    if (req.hotKey && !req.hotLooked) {
      const hot = this.fast(req.hotKey, req.ifNoneMatch);
      if (hot) return hot;
    }
    const since = this.#hot.epoch();
    const { user, image, storedPath } = await this.#resolve(req);
    const options = req.options?.() as O;
    const grant = await this.d.access.see(req, user, image);
    await this.d.access.transforms(grant, user, asksOf(req, storedPath));
    const refund = req.countView ? await this.d.metering.admitView(user) : undefined;
    try {
      const answer = await this.#deliver(req, user, image, options, grant);
      const { delivered } = answer;
      // Remember public answers that are stored (on disk or in memory); fresh bytes become a
      // hit next time.
      if (
        req.hotKey &&
        delivered !== "not-modified" &&
        (delivered.object || delivered.cache === "hit") &&
        delivered.privateUntil === undefined &&
        // Only what anyone may have: an answer given for a signature or to the owner
        // (transforms an unsigned URL may not ask) must not reach others by the hot path.
        grant.caller === "anonymous" &&
        // Negotiated without the URL asking (a preset's `format: auto`): the key lacks the Accept class.
        (req.varies || !answer.varyAccept)
      ) {
        // Without the bytes: memory holds them only while the memory tier keeps the variant.
        const { bytes: _, ...stored } = delivered;
        this.#hot.set(
          req.hotKey,
          {
            delivered: stored,
            variantKey: answer.variantKey,
            presetId: answer.presetId,
            varyAccept: answer.varyAccept,
          },
          image.expires_at ?? undefined,
          since,
        );
      }
      return this.#served({ delivered, etag: answer.etag, varyAccept: answer.varyAccept });
    } catch (err) {
      await refund?.().catch(() => {});
      throw err;
    }
  }

  /**
   * The image's placeholder (`?placeholder`): a tiny blurred PNG rendered from its ThumbHash,
   * under the same access rules as the image; the ThumbHash is made now if the image has none.
   */
  async placeholder<O>(req: DeliveryRequest<O>): Promise<DeliveryResult> {
    const { user, image } = await this.#resolve(req);
    req.options?.();
    const { privateUntil } = await this.d.access.see(req, user, image);
    const { png, etag } = this.d.placeholders.png(await this.d.placeholders.thumbhash(image));
    if (matchesEtag(req.ifNoneMatch, etag)) return { delivered: "not-modified", etag, varyAccept: false };
    return this.#served({
      etag,
      delivered: {
        etag,
        mime: "image/png",
        size: png.byteLength,
        bytes: png,
        cache: "hit",
        privateUntil,
        userId: user.id,
      },
      varyAccept: false,
    });
  }

  /** The tenant and the image its path names; 404 in the dialect's words when either is missing. */
  async #resolve(
    req: Pick<DeliveryRequest, "username" | "path" | "notFound">,
  ): Promise<{ user: User; image: Image; storedPath: string }> {
    const user = await this.d.users.byUsername(req.username);
    const found = user && (await this.d.images.resolvePath(user.id, req.path));
    if (!found) throw new AppError("NOT_FOUND", req.notFound ?? "Image not found");
    return { user, image: found.image, storedPath: found.path };
  }

  #served(r: DeliveryResult): DeliveryResult {
    const d = r.delivered;
    if (d === "not-modified") return r;
    this.d.telemetry?.delivered(d.cache, d.size);
    this.d.metering.countDelivery(d.userId, d.size, d.cache);
    return r;
  }

  async #deliver<O>(req: DeliveryRequest<O>, user: User, image: Image, options: O, grant: Grant): Promise<Answer> {
    const preset = (name: string) => {
      this.d.metering.requireFeature(user, "presets");
      return this.d.presets.byName(user.id, name);
    };
    // Images and URLs named inside the URL obey the same rule as the image itself.
    const watermarkImage = async (id: string): Promise<WatermarkBytes> => {
      const mark = await this.d.access.mark(grant, user, await this.d.images.byId(id), id);
      return { hash: mark.blob_hash, bytes: await this.d.producer.original(mark.blob_hash) };
    };
    const watermarkUrl = async (url: string, param = "watermark_url"): Promise<WatermarkBytes> => {
      await this.d.access.fetch(grant, user, url, param);
      if (grant.caller !== "anonymous") return this.#marks.get(url);
      // An anonymous caller learns nothing of the other host: not what its name resolves to,
      // nor whether or how it answered.
      return this.#marks.get(url).catch(() => {
        throw invalid(param, "the image at this URL could not be used");
      });
    };
    const formats = deliveryFormatsOf(user.delivery_formats);
    const parsed = await req.spec(
      { user, image, preset, negotiate: () => negotiate(req.accept, formats, image), watermarkImage, watermarkUrl },
      options,
    );
    const { spec: raw, presetId, input } = parsed;
    const varyAccept = Boolean(req.varies || parsed.varyAccept);
    if (presetId) this.d.presets.countUseLater(presetId);
    // Read after the spec: a private image named inside the URL makes the answer private too.
    const { privateUntil } = grant;
    if (!raw) {
      const etag = originalEtag(image);
      if (matchesEtag(req.ifNoneMatch, etag)) return { delivered: "not-modified", etag, varyAccept };
      const object = await this.d.blobs.open(image.blob_hash);
      if (!object) throw new AppError("NOT_FOUND", "Image not found");
      const delivered: Delivered = {
        etag,
        mime: image.mime_type,
        size: object.size,
        object,
        cache: "original",
        privateUntil,
        userId: user.id,
      };
      return { delivered, etag, varyAccept, presetId };
    }
    const spec = finalize(raw, image, this.d.maxOutputPixels);
    const production: Production = {
      userId: user.id,
      image,
      spec,
      key: variantKey(image.blob_hash, spec, image.generation),
      input,
      url: req.url,
      // Only what is about to be made is checked: a variant already stored is served whatever it cost.
      admit: () => {
        if (this.d.cost) checkTransformCost(spec, image, this.d.cost.max, this.d.cost.efforts);
        return this.#admit(req, user, grant);
      },
    };
    const delivered = await this.d.producer.variant(production, req.ifNoneMatch, privateUntil);
    return { delivered, etag: `"${production.key}"`, varyAccept, variantKey: production.key, presetId };
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
    return this.d.metering.admitTransformation(user, !owner);
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
