import { readFileSync } from "node:fs";
import * as v from "valibot";

/**
 * What a plan includes besides its limits. img-src keeps private images, signed URLs and
 * presets for Pro; AssetsRepo's delivery API needs one of its subscriptions.
 */
export const FEATURES = ["private_images", "signed_urls", "presets", "assetsrepo"] as const;
export type Feature = (typeof FEATURES)[number];

/** The refusal for a plan without a feature: the reference's words where it has them. */
export const FEATURE_REFUSALS: Record<Feature, string> = {
  private_images: "Pro plan required for private images",
  signed_urls: "Pro plan required for signed URLs",
  presets: "Pro plan required for presets",
  assetsrepo: "No active subscription: this plan does not include image delivery through the AssetsRepo API",
};

/** A named set of limits; `null` is unlimited. */
export interface Plan {
  /** Display name ("Free Plan"). */
  name: string;
  uploadsPerMonth: number | null;
  storageBytes: number | null;
  transformationsPerMonth: number | null;
  apiRequestsPerMonth: number | null;
  /** Images served through the AssetsRepo dialect; 0: the plan does not include it (403). */
  viewsPerMonth: number | null;
  /** API requests per key per minute. */
  requestsPerMinute: number | null;
  maxUploadBytes: number | null;
  bandwidthPerMonth: number | null;
  features: readonly Feature[];
}

const GB = 1024 ** 3;
const MB = 1024 ** 2;

const PRO_FEATURES: readonly Feature[] = ["private_images", "signed_urls", "presets"];

/** AssetsRepo's subscriptions: "Pro" on any tier, told apart by their monthly views. */
const assetsrepoTier = (name: string, views: number): Plan => ({
  name: `AssetsRepo Pro ${name}`,
  uploadsPerMonth: null,
  storageBytes: 50 * GB,
  transformationsPerMonth: 10_000,
  apiRequestsPerMonth: 10_000,
  viewsPerMonth: views,
  requestsPerMinute: 500,
  maxUploadBytes: 5 * MB,
  bandwidthPerMonth: null,
  features: [...PRO_FEATURES, "assetsrepo"],
});

/**
 * `free` and `pro` are img-src's published figures (5 MB uploads, 100 and 500 requests a
 * minute; private images, signed URLs and presets on Pro only). `imgpro` is img.pro's account
 * (70 MB uploads, 100 a month, 5 GB), given to accounts registered through POST /v1/keys. The
 * four `assetsrepo-*` plans are AssetsRepo's tiers. The admin's `unlimited` has no limit and
 * every feature.
 */
export const BUILTIN_PLANS: Readonly<Record<string, Plan>> = {
  free: {
    name: "Free Plan",
    uploadsPerMonth: 100,
    storageBytes: 10 * GB,
    transformationsPerMonth: 1000,
    apiRequestsPerMonth: 1000,
    viewsPerMonth: 0,
    requestsPerMinute: 100,
    maxUploadBytes: 5 * MB,
    bandwidthPerMonth: null,
    features: [],
  },
  pro: {
    name: "Pro Plan",
    uploadsPerMonth: null,
    storageBytes: 50 * GB,
    transformationsPerMonth: 10_000,
    apiRequestsPerMonth: 10_000,
    viewsPerMonth: 0,
    requestsPerMinute: 500,
    maxUploadBytes: 5 * MB,
    bandwidthPerMonth: null,
    features: PRO_FEATURES,
  },
  imgpro: {
    name: "img.pro Free",
    uploadsPerMonth: 100,
    storageBytes: 5120 * MB,
    transformationsPerMonth: null,
    apiRequestsPerMonth: null,
    viewsPerMonth: 0,
    requestsPerMinute: 100,
    maxUploadBytes: 70 * MB,
    bandwidthPerMonth: null,
    features: [],
  },
  "assetsrepo-50k": assetsrepoTier("50K", 50_000),
  "assetsrepo-250k": assetsrepoTier("250K", 250_000),
  "assetsrepo-1m": assetsrepoTier("1M", 1_000_000),
  "assetsrepo-5m": assetsrepoTier("5M", 5_000_000),
  unlimited: {
    name: "Unlimited",
    uploadsPerMonth: null,
    storageBytes: null,
    transformationsPerMonth: null,
    apiRequestsPerMonth: null,
    viewsPerMonth: null,
    requestsPerMinute: null,
    maxUploadBytes: null,
    bandwidthPerMonth: null,
    features: [...FEATURES],
  },
};

const limit = v.nullable(
  v.pipe(
    v.number("must be a number or null"),
    v.integer("must be a whole number"),
    v.minValue(0, "must not be negative"),
  ),
);

/** One plan as written in IMGD_PLANS: snake_case, every field optional (missing: the built-in's, or unlimited). */
const PlanInput = v.strictObject(
  {
    name: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(100))),
    uploads_per_month: v.optional(limit),
    storage_bytes: v.optional(limit),
    transformations_per_month: v.optional(limit),
    api_requests_per_month: v.optional(limit),
    views_per_month: v.optional(limit),
    requests_per_minute: v.optional(limit),
    max_upload_bytes: v.optional(limit),
    bandwidth_per_month: v.optional(limit),
    features: v.optional(v.array(v.picklist(FEATURES, `must be a list of: ${FEATURES.join(", ")}`))),
  },
  "unknown field",
);

const PlansInput = v.record(
  v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, "plan names are lowercase letters, digits, '-' or '_'")),
  PlanInput,
);

/**
 * The plans of a server: the built-ins with IMGD_PLANS over them. IMGD_PLANS is inline JSON
 * (`{"team": {"uploads_per_month": 500}}`) or the path of a file holding it; a plan named like a
 * built-in changes only the fields it gives.
 */
export function parsePlans(source: string): Record<string, Plan> {
  if (!source.trim()) return { ...BUILTIN_PLANS };
  const text = source.trimStart().startsWith("{") ? source : readFileSync(source, "utf8");
  const r = v.safeParse(PlansInput, JSON.parse(text));
  if (!r.success) {
    const issue = r.issues[0];
    const where = v.getDotPath(issue);
    throw new Error(`${where ? `${where}: ` : ""}${issue.message}`);
  }
  const out: Record<string, Plan> = { ...BUILTIN_PLANS };
  for (const [id, p] of Object.entries(r.output)) {
    const base = out[id] ?? { ...BUILTIN_PLANS.unlimited, name: id };
    out[id] = {
      name: p.name ?? base.name,
      uploadsPerMonth: p.uploads_per_month !== undefined ? p.uploads_per_month : base.uploadsPerMonth,
      storageBytes: p.storage_bytes !== undefined ? p.storage_bytes : base.storageBytes,
      transformationsPerMonth:
        p.transformations_per_month !== undefined ? p.transformations_per_month : base.transformationsPerMonth,
      apiRequestsPerMonth: p.api_requests_per_month !== undefined ? p.api_requests_per_month : base.apiRequestsPerMonth,
      viewsPerMonth: p.views_per_month !== undefined ? p.views_per_month : base.viewsPerMonth,
      requestsPerMinute: p.requests_per_minute !== undefined ? p.requests_per_minute : base.requestsPerMinute,
      maxUploadBytes: p.max_upload_bytes !== undefined ? p.max_upload_bytes : base.maxUploadBytes,
      bandwidthPerMonth: p.bandwidth_per_month !== undefined ? p.bandwidth_per_month : base.bandwidthPerMonth,
      features: p.features !== undefined ? [...new Set(p.features)] : base.features,
    };
  }
  return out;
}

/** The plans, looked up by the name stored on each tenant. */
export class Plans {
  constructor(readonly all: Readonly<Record<string, Plan>>) {}

  /** A tenant whose plan was removed from the config keeps working under `free`, not unlimited. */
  of(name: string): Plan {
    return this.all[name] ?? this.all.free ?? BUILTIN_PLANS.free;
  }

  /** Whether a plan includes a feature. */
  includes(name: string, feature: Feature): boolean {
    return this.of(name).features.includes(feature);
  }

  has(name: string): boolean {
    return Object.hasOwn(this.all, name);
  }

  names(): string[] {
    return Object.keys(this.all);
  }
}
