import type { Config } from "./config.ts";
import { Accounts } from "./domain/accounts/accounts.ts";
import { openIdentity } from "./domain/auth/index.ts";
import { openDelivery } from "./domain/delivery/index.ts";
import { Placeholders } from "./domain/delivery/placeholders.ts";
import { FactsBackfill } from "./domain/library/facts.ts";
import { openNetwork } from "./domain/fetcher/index.ts";
import { buildImgwire } from "./domain/imgwire/imgwire.ts";
import { Ingest } from "./domain/ingest/ingest.ts";
import { ResumableUploads } from "./domain/ingest/resumable.ts";
import { Images } from "./domain/library/images.ts";
import { Media } from "./domain/library/media.ts";
import { openPurge } from "./domain/library/open-purge.ts";
import { Presets } from "./domain/library/presets.ts";
import { Removal } from "./domain/library/removal.ts";
import { openMetering } from "./domain/metering/index.ts";
import { OwnHosts } from "./domain/site/hosts.ts";
import { openWebhooks } from "./domain/webhooks/index.ts";
import { Sweeper } from "./ops/sweeper.ts";
import { openPlatform, type RunOptions } from "./platform.ts";
import type { Runtime } from "./runtime/index.ts";

export type { RunOptions } from "./platform.ts";

// The composition root: everything one imgd instance owns, built once by createImgd in
// dependency order (each thing after what it uses) and passed to routes explicitly.

/** Everything one imgd instance owns; see buildServices. */
export type Services = Awaited<ReturnType<typeof buildServices>>;

/** What stays behind the domain: the database, the stores, the worker pool, the housekeeping. */
const INTERNAL = [
  "db",
  "blobs",
  "pool",
  "variants",
  "sweeper",
  "bus",
  "leases",
  "storage",
  "sweepStorage",
  "dispatcher",
] as const;

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
  const { db, bus, leases, tokens, blobs, variants, pool } = platform;
  const presets = new Presets(db, config.now);
  // The resolver and the SSRF-safe fetchers (URL imports and watermarks; webhooks).
  const { dns, fetcher, fetcherFor } = openNetwork(config, runtime.connect);
  // The webhook outbox the use cases below write to in their own transactions, and its dispatcher.
  const { events, endpoints: webhooks, dispatcher } = openWebhooks(config, { db, leases, fetcherFor, log });
  const { usage, plans, metering, metrics } = openMetering(db, config, events);
  // Tenants, keys, sessions and the one admission step (authenticate + scope + meter).
  const identity = openIdentity(db, config, metering);
  const { users, auth } = identity;
  // A tenant's images changed: delivery's caches (here and on the other nodes) forget its answers.
  const forgetUser = (id: string) => bus.publish({ kind: "user", id });
  // The names imgd answers as itself; the origin of absolute URLs without IMGD_PUBLIC_URL.
  const ownHosts = new OwnHosts(config);
  const purge = openPurge({ config, db, variants, fetcherFor, ownHosts, onChanged: forgetUser, events, log });
  const removal = new Removal({
    db,
    blobs,
    events,
    onChanged: forgetUser,
    onBlobsReleased: (h) => variants.deleteForBlobs(h),
    onDeleted: (deleted) => purge.deleted(deleted),
  });
  const images = new Images({ db, removal, blobs, events, onChanged: forgetUser, now: config.now });
  const ingest = new Ingest({
    db,
    blobs,
    metering,
    codecs: pool,
    events,
    limits: { maxUploadBytes: config.maxUploadBytes, maxSourcePixels: config.maxSourcePixels },
    now: config.now,
  });
  // tus uploads: parts in the storage's part store until whole, then the one ingest path.
  const uploads = new ResumableUploads({
    db,
    parts: platform.storage.parts,
    ingest,
    expiryMs: config.uploadExpiry * 1000,
    now: config.now,
  });
  // ThumbHashes and `?placeholder` images; backfills images from before them at start.
  const placeholders = new Placeholders({
    images,
    thumbhashOf: async (hash) => (await pool.inspect(() => blobs.read(hash), { transfer: true })).thumbhash,
    log,
  });
  const delivery = openDelivery(config, {
    ...platform,
    auth,
    users,
    images,
    presets,
    placeholders,
    metering,
    // Watermarks from URLs come through the import fetcher: same networks, timeout and size limit.
    fetchWatermark: (url) => fetcher.read(url, config.maxUploadBytes),
  });
  const media = new Media(db, images, events, config.now);
  const accounts = new Accounts({ db, users, keys: identity.keys, images, rates: identity.rates, now: config.now });
  const imgwire = buildImgwire({
    config,
    ownHosts,
    dns,
    db,
    keys: identity.keys,
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
      () => uploads.sweep(),
      () => identity.rates.prune(),
      () => identity.sessions.prune(),
      () => leases.prune(),
      // Finished webhook deliveries are kept a week for the tenant to look at.
      () => dispatcher.prune(7 * 86_400_000),
      platform.sweepStorage,
    ],
  });
  if (background) sweeper.start();
  if (background && codecs) placeholders.start(platform.codecsReady);
  // Frames and alpha of images from before they were stored, in the background at start.
  const facts = new FactsBackfill({ images, log });
  if (background) facts.start();
  if (background) dispatcher.start();
  return {
    // The database, the stores and the worker pool are here for close(); see AppServices.
    ...platform,
    config,
    runtime,
    log,
    ...identity,
    images,
    ingest,
    uploads,
    purge,
    presets,
    usage,
    delivery,
    media,
    accounts,
    plans,
    metering,
    metrics,
    fetcher,
    imgwire,
    ownHosts,
    sweeper,
    webhooks,
    dispatcher,
    placeholders,
    facts,
  };
}
