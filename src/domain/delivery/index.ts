import type { Config } from "../../config.ts";
import type { Bus } from "../../db/bus.ts";
import type { Leases } from "../../db/leases.ts";
import type { BlobStore } from "../../store/types.ts";
import type { VariantIndex } from "../../store/variant-index.ts";
import type { CodecPool } from "../../../codecs/pool.ts";
import type { Tokens } from "../tokens/tokens.ts";
import { Access } from "./access.ts";
import { MissBudget } from "./budget.ts";
import { Delivery, type DeliveryDeps } from "./deliver.ts";
import { VariantProducer, type ProducerDeps } from "./producer.ts";

/** What delivery runs on besides the settings: the platform's parts and the use cases it reads. */
export interface DeliveryParts
  extends Pick<DeliveryDeps, "users" | "images" | "presets" | "placeholders" | "metering" | "fetchWatermark"> {
  blobs: BlobStore;
  variants: VariantIndex;
  pool: CodecPool;
  leases: Leases;
  bus: Bus;
  tokens: Tokens;
  auth: ConstructorParameters<typeof Access>[0]["auth"];
  telemetry: NonNullable<ProducerDeps["telemetry"]> & NonNullable<DeliveryDeps["telemetry"]>;
}

/**
 * Delivery as the settings describe it: the one access rule (IMGD_TRANSFORMS), the producer of
 * variants (memory tier, variant index, single flight across nodes) and the budgets an anonymous
 * caller spends (IMGD_MISS_RATE, IMGD_MAX_TRANSFORM_COST).
 */
export function openDelivery(config: Config, p: DeliveryParts): Delivery {
  const producer = new VariantProducer({
    blobs: p.blobs,
    variants: p.variants,
    pool: p.pool,
    memoryBytes: config.memoryCacheBytes,
    telemetry: p.telemetry,
    leases: p.leases,
    leaseMs: config.variantLeaseMs,
    // Long enough for a queued transform on the node making it, and for a dead node's lease to lapse.
    waitMs: config.jobTimeoutMs * 2 + config.variantLeaseMs * 2,
  });
  return new Delivery({
    users: p.users,
    images: p.images,
    presets: p.presets,
    placeholders: p.placeholders,
    metering: p.metering,
    blobs: p.blobs,
    bus: p.bus,
    telemetry: p.telemetry,
    fetchWatermark: p.fetchWatermark,
    producer,
    missBudget: new MissBudget(config.missRate, config.now),
    cost: { max: config.maxTransformCost, efforts: { avif: config.avifEffort, webp: config.webpEffort } },
    access: new Access({ tokens: p.tokens, auth: p.auth, now: config.now, transforms: config.transforms }),
    now: config.now,
    maxOutputPixels: config.maxSourcePixels,
  });
}
