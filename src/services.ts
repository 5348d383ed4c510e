import type { Config } from "./config.ts";
import { Accounts } from "./domain/accounts/accounts.ts";
import { Keys } from "./domain/accounts/keys.ts";
import { Passwords } from "./domain/accounts/passwords.ts";
import { Sessions, SignInGuard } from "./domain/accounts/sessions.ts";
import { Users } from "./domain/accounts/users.ts";
import { Auth } from "./domain/auth/auth.ts";
import { Access } from "./domain/delivery/access.ts";
import { MissBudget } from "./domain/delivery/budget.ts";
import { checkTransformCost } from "./domain/delivery/cost.ts";
import { Delivery } from "./domain/delivery/deliver.ts";
import { Placeholders } from "./domain/delivery/placeholders.ts";
import { VariantProducer } from "./domain/delivery/producer.ts";
import { FactsBackfill } from "./domain/library/facts.ts";
import { parseCidrList } from "./domain/fetcher/addresses.ts";
import { dnsOf } from "./domain/fetcher/dns.ts";
import { Fetcher, parsePins } from "./domain/fetcher/fetcher.ts";
import { buildImgwire } from "./domain/imgwire/imgwire.ts";
import { Ingest } from "./domain/ingest/ingest.ts";
import { Images } from "./domain/library/images.ts";
import { Media } from "./domain/library/media.ts";
import { openPurge } from "./domain/library/open-purge.ts";
import { Presets } from "./domain/library/presets.ts";
import { Removal } from "./domain/library/removal.ts";
import { openMetering } from "./domain/metering/index.ts";
import { RateLimits } from "./domain/metering/ratelimits.ts";
import { OwnHosts } from "./domain/site/hosts.ts";
import { Sweeper } from "./ops/sweeper.ts";
import { openPlatform, type RunOptions } from "./platform.ts";
import type { Runtime } from "./runtime/index.ts";

export type { RunOptions } from "./platform.ts";

// The composition root: everything one imgd instance owns, built once by createImgd in
// dependency order (each thing after what it uses) and passed to routes explicitly.

/** Everything one imgd instance owns; see buildServices. */
export type Services = Awaited<ReturnType<typeof buildServices>>;

/** What stays behind the domain: the database, the stores, the worker pool, the housekeeping. */
const INTERNAL = ["db", "blobs", "pool", "variants", "sweeper", "bus", "leases", "storage", "sweepStorage"] as const;

/**
 * What routes, CLI commands and embedders may use: the use cases and the instance's settings,
 * never the database, the stores or the worker pool (those stay behind the domain).
 */
export type AppServices = Omit<Services, (typeof INTERNAL)[number]>;

/** AppServices as a new object, so `db` and the stores are not even there to reach. */
export function appServices(s: Services): AppServices {
  const visible: Partial<Services> = { ...s };
  for (const name of INTERNAL) delete visible[name];
  return visible as AppServices;
}

export async function buildServices(
  config: Config,
  runtime: Runtime,
  log: (line: string) => void,
  run: RunOptions = {},
) {
  const { codecs = true, background = true } = run;
  // The database, the bus, the storage and the variant index, the secret, the codec workers.
  const platform = await openPlatform(config, runtime, log, run);
  const { db, bus, leases, tokens, blobs, variants, pool, telemetry } = platform;
  const users = new Users(db, config.now);
  const keys = new Keys(db, config.now);
  const presets = new Presets(db, config.now);
  const { usage, plans, metering, metrics } = openMetering(db, config);
  // A tenant's images changed: delivery's caches (here and on the other nodes) forget its answers.
  const forgetUser = (id: string) => bus.publish({ kind: "user", id });
  // The names imgd answers as itself; the origin of absolute URLs without IMGD_PUBLIC_URL.
  const ownHosts = new OwnHosts(config);
  const dns = dnsOf(config.dnsServers);
  const pins = parsePins(config.resolve);
  const purge = openPurge({
    config,
    db,
    variants,
    runtime,
    resolve: dns.addresses,
    pins,
    ownHosts,
    onChanged: forgetUser,
    // onPurged: (image, urls) => …, where a `variant.purged` event is to be emitted.
    log,
  });
  const removal = new Removal({
    db,
    blobs,
    onChanged: forgetUser,
    onBlobsReleased: (h) => variants.deleteForBlobs(h),
    onDeleted: (deleted) => purge.deleted(deleted),
  });
  const images = new Images({ db, removal, blobs, onChanged: forgetUser, now: config.now });
  const ingest = new Ingest({
    db,
    blobs,
    metering,
    codecs: pool,
    limits: { maxUploadBytes: config.maxUploadBytes, maxSourcePixels: config.maxSourcePixels },
    now: config.now,
  });
  // ThumbHashes and `?placeholder` images; backfills images from before them at start.
  const placeholders = new Placeholders({
    images,
    thumbhashOf: async (hash) => (await pool.inspect(() => blobs.read(hash), { transfer: true })).thumbhash,
    log,
  });
  const fetcher = new Fetcher({
    allow: parseCidrList(config.importAllowNetworks),
    timeoutMs: config.importTimeoutMs,
    connect: runtime.connect,
    pins,
    resolve: dns.addresses,
  });
  const producer = new VariantProducer({
    blobs,
    variants,
    pool,
    memoryBytes: config.memoryCacheBytes,
    onTransformed: (format, seconds) => telemetry.transformed(format, seconds),
    leases,
    leaseMs: config.variantLeaseMs,
    // Long enough for a queued transform on the node making it, and for a dead node's lease to lapse.
    waitMs: config.jobTimeoutMs * 2 + config.variantLeaseMs * 2,
  });
  const delivery = new Delivery({
    placeholders,
    users,
    images,
    presets,
    blobs,
    producer,
    admitTransformation: (user, anonymous) => metering.admitTransformation(user, anonymous),
    missBudget: new MissBudget(config.missRate, config.now),
    checkCost: (spec, image) =>
      checkTransformCost(spec, image, config.maxTransformCost, { avif: config.avifEffort, webp: config.webpEffort }),
    admitView: (user) => metering.admitView(user),
    onServed: (d) => {
      telemetry.delivered(d.cache, d.size);
      metering.countDelivery(d.userId, d.size, d.cache);
    },
    requireFeature: (user, feature) => metering.requireFeature(user, feature),
    access: new Access({ tokens, now: config.now, transforms: config.transforms }),
    now: config.now,
    maxOutputPixels: config.maxSourcePixels,
    // Watermarks from URLs come through the import fetcher: same networks, timeout and size limit.
    fetchWatermark: (url) => fetcher.read(url, config.maxUploadBytes),
    bus,
  });
  const rates = new RateLimits(db, config.now);
  // Proxies whose X-Forwarded-For is believed (IMGD_TRUST_PROXY).
  const trustedProxies = parseCidrList(config.trustProxy);
  const sessions = new Sessions(db, config.now);
  // Authenticate + scope + meter: the one admission step of every dialect.
  const site = { publicUrl: config.publicUrl, trustedProxies, basePath: config.basePath };
  const auth = new Auth({ keys, metering, sessions, site });
  const media = new Media(db, images, config.now);
  const accounts = new Accounts({ db, users, keys, images, rates, now: config.now });
  const imgwire = buildImgwire({
    config,
    ownHosts,
    dns,
    db,
    keys,
    users,
    accounts,
    images,
    ingest,
    blobs,
    archives: platform.storage.archives,
    fetcher,
    tokens,
    log,
  });
  const sweeper = new Sweeper({
    intervalMs: config.sweepIntervalMs,
    leases,
    log,
    jobs: [
      () => imgwire.sweep(),
      () => media.sweepExpired(),
      () => rates.prune(),
      () => sessions.prune(),
      () => leases.prune(),
      platform.sweepStorage,
    ],
  });
  if (background) sweeper.start();
  if (background && codecs) placeholders.start(platform.codecsReady);
  // Frames and alpha of images from before they were stored, in the background at start.
  const facts = new FactsBackfill({ images, log });
  if (background) facts.start();
  return {
    // The database, the stores and the worker pool are here for close(); see AppServices.
    ...platform,
    config,
    runtime,
    log,
    users,
    keys,
    images,
    ingest,
    purge,
    presets,
    usage,
    delivery,
    media,
    accounts,
    plans,
    metering,
    metrics,
    rates,
    auth,
    sessions,
    fetcher,
    imgwire,
    ownHosts,
    trustedProxies,
    sweeper,
    placeholders,
    facts,
    // The dashboard's accounts side: passwords, browser sessions, sign-in back-off.
    passwords: new Passwords(db, config.now),
    signins: new SignInGuard(db, config.now),
  };
}
