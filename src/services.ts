import { mkdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { CodecPool, defaultPoolSize } from "../codecs/pool.ts";
import { type Config, ConfigError } from "./config.ts";
import { type Db, type DatabaseTarget, openDatabase, ping } from "./db/connection.ts";
import { type Bus, localBus, openPostgresBus } from "./db/bus.ts";
import { Leases } from "./db/leases.ts";
import { Settings } from "./db/settings.ts";
import { Health } from "./domain/health.ts";
import { Access } from "./domain/delivery/access.ts";
import { MissBudget } from "./domain/delivery/budget.ts";
import { checkTransformCost } from "./domain/delivery/cost.ts";
import { Delivery } from "./domain/delivery/deliver.ts";
import { Placeholders } from "./domain/delivery/placeholders.ts";
import { VariantProducer } from "./domain/delivery/producer.ts";
import { Images } from "./domain/library/images.ts";
import { Ingest } from "./domain/ingest/ingest.ts";
import { Removal } from "./domain/library/removal.ts";
import { Keys } from "./domain/accounts/keys.ts";
import { Presets } from "./domain/library/presets.ts";
import { Usage } from "./domain/metering/usage.ts";
import { Users } from "./domain/accounts/users.ts";
import { Tokens } from "./domain/tokens/tokens.ts";
import { Auth } from "./domain/auth/auth.ts";
import { Accounts } from "./domain/accounts/accounts.ts";
import { parseCidrList } from "./domain/fetcher/addresses.ts";
import { OwnHosts } from "./domain/site/hosts.ts";
import { dnsOf } from "./domain/fetcher/dns.ts";
import { Fetcher, parsePins } from "./domain/fetcher/fetcher.ts";
import { buildImgwire, type ImgwireServices } from "./domain/imgwire/imgwire.ts";
import { Media } from "./domain/library/media.ts";
import { Metering } from "./domain/metering/metering.ts";
import { Metrics } from "./domain/metering/metrics.ts";
import { parsePlans, Plans } from "./domain/metering/plans.ts";
import { Passwords } from "./domain/accounts/passwords.ts";
import { Sessions, SignInGuard } from "./domain/accounts/sessions.ts";
import { blobKnown, blobTotals } from "./db/stats.ts";
import { AccessLog } from "./observability/access-log.ts";
import { Telemetry } from "./observability/telemetry.ts";
import { RateLimits } from "./domain/metering/ratelimits.ts";
import type { Runtime } from "./runtime/index.ts";
import { openStorage } from "./store/index.ts";
import type { BlobStore } from "./store/types.ts";
import { VariantIndex } from "./store/variant-index.ts";

/** Everything one imgd instance owns; built once by createImgd, passed to routes explicitly. */
export interface Services {
  config: Config;
  /** The names imgd answers as itself; the origin of absolute URLs without IMGD_PUBLIC_URL. */
  ownHosts: OwnHosts;
  runtime: Runtime;
  db: Db;
  blobs: BlobStore;
  pool: CodecPool;
  /** Settles when the codec workers are warm (rejects when they cannot start). */
  codecsReady: Promise<void>;
  users: Users;
  keys: Keys;
  images: Images;
  /** Every way an image arrives: admission, receive, verify, store. */
  ingest: Ingest;
  presets: Presets;
  usage: Usage;
  variants: VariantIndex;
  delivery: Delivery;
  media: Media;
  accounts: Accounts;
  plans: Plans;
  metering: Metering;
  /** Per-tenant time series (metrics datasets and stats). */
  metrics: Metrics;
  /** Prometheus metrics of this instance (its own registry). */
  telemetry: Telemetry;
  accessLog: AccessLog;
  rates: RateLimits;
  /** Authenticate + scope + meter: the one admission step of every dialect. */
  auth: Auth;
  /** The dashboard's accounts side: passwords, browser sessions, sign-in back-off. */
  passwords: Passwords;
  sessions: Sessions;
  signins: SignInGuard;
  fetcher: Fetcher;
  imgwire: ImgwireServices;
  /** Proxies whose X-Forwarded-For is believed (IMGD_TRUST_PROXY). */
  trustedProxies: ReturnType<typeof parseCidrList>;
  /** Removes expired images now and then; stopped by close. */
  sweeper: Sweeper;
  /** ThumbHashes and `?placeholder` images; backfills images from before them at start. */
  placeholders: Placeholders;
  /** Makes and checks every signed thing (key: created on first start, kept in the data dir). */
  /** Makes and checks every signed thing (key: IMGD_SECRET, or created on first start and kept in the database). */
  tokens: Tokens;
  /** What this node runs on, and whether both answer (/health, /ready). */
  health: Health;
  /** Changes told to (and heard from) the other nodes on the same database. */
  bus: Bus;
  log: (line: string) => void;
}

/**
 * What an instance runs besides answering calls. The server runs everything; a CLI command
 * working on the same data directory (perhaps beside a running server) runs neither.
 */
export interface RunOptions {
  /** Start the worker pool (false: codec jobs are refused as `closed`). */
  codecs?: boolean;
  /**
   * Start-up recovery and the periodic sweeper. Recovery removes partial uploads and
   * uncommitted blobs, so only the process that owns the data directory may run it.
   */
  background?: boolean;
}

/**
 * What routes, CLI commands and embedders may use: the use cases and the instance's settings,
 * never the database, the stores or the worker pool (those stay behind the domain).
 */
export type AppServices = Omit<Services, "db" | "blobs" | "pool" | "variants" | "sweeper" | "bus">;

/** AppServices as a new object, so `db` and the stores are not even there to reach. */
export function appServices(s: Services): AppServices {
  const { db: _db, blobs: _blobs, pool: _pool, variants: _variants, sweeper: _sweeper, bus: _bus, ...rest } = s;
  return rest;
}

export async function buildServices(
  config: Config,
  runtime: Runtime,
  log: (line: string) => void,
  run: RunOptions = {},
): Promise<Services> {
  const { codecs = true, background = true } = run;
  const plans = new Plans(plansOf(config.plans));
  const target: DatabaseTarget = config.databaseUrl
    ? { kind: "postgres", url: config.databaseUrl, poolSize: config.databasePoolSize }
    : { kind: "sqlite", file: join(config.dataDir, "imgd.sqlite") };
  if (target.kind === "sqlite") await ensureWritable(config.dataDir);
  const db = await openDatabase(runtime, target);
  // This process among the nodes on one database (leases it holds, changes it announces).
  const node = randomBytes(8).toString("hex");
  const bus = target.kind === "postgres" ? await openPostgresBus(db, target.url, node, log) : localBus();
  const leases = new Leases(db, node);
  const tokens = new Tokens(await signingSecret(config, new Settings(db, config.now)), config.now);
  const storage = await openStorage({
    dataDir: config.dataDir,
    fileBody: runtime.fileBody,
    url: config.storageUrl,
    localCacheBytes: config.localCacheBytes,
    timeoutMs: config.storageTimeoutMs,
    sweepGraceMs: config.storageSweepAgeMs,
  });
  const blobs = storage.blobs;
  const health = new Health({ kind: target.kind, ping: () => ping(db) }, storageDependency(storage, config.dataDir));
  // Start-up recovery removes files no row names yet: right for the one process owning a data
  // directory, wrong beside other nodes writing to the same storage at this moment.
  const recover = background && target.kind === "sqlite";
  if (recover) {
    // Claims of a process that crashed here would otherwise hold up its variants until they lapse.
    await leases.clear();
    await storage.archives.sweep();
    await blobs.sweep((hash) => blobKnown(db, hash));
  }
  const pool = new CodecPool({
    size: config.workers ?? defaultPoolSize(),
    maxQueue: config.queueLimit,
    jobTimeoutMs: config.jobTimeoutMs,
    maxSourcePixels: config.maxSourcePixels,
    maxAnimationFrames: config.maxAnimationFrames,
    maxTransformCost: config.maxTransformCost,
    // Loading wasm-vips is a worker's first long job: under emulation (qemu-user) it takes
    // longer than 30 s, and a longer job deadline is what such a machine sets anyway.
    startTimeoutMs: Math.max(30_000, config.jobTimeoutMs),
    effort: { avif: config.avifEffort, webp: config.webpEffort },
  });
  // Not awaited: the server listens while the workers warm up, and jobs wait for a warm one.
  // A failed start closes the pool (jobs get 503); `imgd serve` exits on it (see cli/serve.ts).
  const codecsReady = codecs ? pool.start() : pool.close();
  codecsReady.catch((err) => log(`codec workers failed to start: ${err instanceof Error ? err.message : String(err)}`));
  const users = new Users(db, config.now);
  const keys = new Keys(db, config.now);
  const presets = new Presets(db, config.now);
  const usage = new Usage(db, config.now);
  const metering = new Metering({
    db,
    usage,
    plans,
    now: config.now,
    enabled: config.metering,
    ownerReservePercent: config.ownerReserve,
  });
  const metrics = new Metrics(usage, config.now);
  const variants = new VariantIndex(
    db,
    storage.variants,
    config.variantCacheBytes,
    config.now,
    target.kind === "postgres",
  );
  await variants.init({ sweep: recover });
  const removal = new Removal({
    db,
    blobs,
    onChanged: (userId) => delivery.forgetUser(userId),
    onBlobsReleased: (hashes) => variants.deleteForBlobs(hashes),
  });
  const images = new Images({
    db,
    removal,
    blobs,
    onChanged: (userId) => delivery.forgetUser(userId),
    now: config.now,
  });
  const ingest = new Ingest({
    db,
    blobs,
    metering,
    inspect: (source) => pool.inspect(source, { transfer: true }),
    limits: { maxUploadBytes: config.maxUploadBytes, maxSourcePixels: config.maxSourcePixels },
    now: config.now,
  });
  const placeholders = new Placeholders({
    images,
    thumbhashOf: async (hash) => (await pool.inspect(() => blobs.read(hash), { transfer: true })).thumbhash,
    log,
  });
  const dns = dnsOf(config.dnsServers);
  const fetcher = new Fetcher({
    allow: parseCidrList(config.importAllowNetworks),
    timeoutMs: config.importTimeoutMs,
    connect: runtime.connect,
    pins: parsePins(config.resolve),
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
  variants.onRemoved = (keys) => delivery.forgetVariants(keys);
  const rates = new RateLimits(db, config.now);
  const trustedProxies = parseCidrList(config.trustProxy);
  const passwords = new Passwords(db, config.now);
  const sessions = new Sessions(db, config.now);
  const signins = new SignInGuard(db, config.now);
  const auth = new Auth({
    keys,
    metering,
    sessions,
    site: { publicUrl: config.publicUrl, trustedProxies, basePath: config.basePath },
  });
  const media = new Media(db, images, config.now);
  const accounts = new Accounts({ db, users, keys, images, rates, now: config.now });
  const telemetry = new Telemetry({ pool, variants, blobTotals: () => blobTotals(db) });
  const accessLog = new AccessLog(config.accessLog, (line) => process.stdout.write(`${line}\n`));
  const ownHosts = new OwnHosts(config);
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
    archives: storage.archives,
    fetcher,
    tokens,
    log,
  });
  // Leftovers of uploads that failed while S3 or the database was away (staged objects, blobs
  // whose rows never came): removed while running, not only at the next start, once older
  // than any upload in progress can be. Listing a bucket is not free: a few times per age.
  const storageSweepEveryMs = Math.max(config.sweepIntervalMs, config.storageSweepAgeMs / 4);
  let storageSweptAt = 0;
  const sweepStorage = async () => {
    if (storage.kind !== "s3" || Date.now() - storageSweptAt < storageSweepEveryMs) return;
    storageSweptAt = Date.now();
    const { removed } = await blobs.sweep((hash) => blobKnown(db, hash));
    const archives = await storage.archives.sweep();
    if (removed + archives.removed) log(`storage sweep: removed ${removed + archives.removed} leftover object(s)`);
  };
  const sweeper = new Sweeper(
    config.sweepIntervalMs,
    async () => {
      // One node sweeps at a time: the others skip this round.
      const lease = await leases.acquire("sweep", 60_000);
      if (!lease) return;
      try {
        await imgwire.sweep();
        await media.sweepExpired();
        await rates.prune();
        await sessions.prune();
        await leases.prune();
        await sweepStorage();
      } finally {
        await lease.release();
      }
    },
    log,
  );
  if (background) sweeper.start();
  if (background && codecs) placeholders.start(codecsReady);
  return {
    config,
    runtime,
    db,
    blobs,
    pool,
    codecsReady,
    users,
    keys,
    images,
    ingest,
    presets,
    usage,
    variants,
    delivery,
    media,
    accounts,
    plans,
    metering,
    metrics,
    telemetry,
    accessLog,
    rates,
    auth,
    passwords,
    sessions,
    signins,
    fetcher,
    imgwire,
    ownHosts,
    trustedProxies,
    sweeper,
    placeholders,
    tokens,
    health,
    bus,
    log,
  };
}

/** The plans of IMGD_PLANS over the built-ins; a bad table stops the start like any bad setting. */
function plansOf(source: string) {
  try {
    return parsePlans(source);
  } catch (err) {
    throw new ConfigError(
      `invalid IMGD_PLANS (--plans): expected plans as JSON or the path of a JSON file (${(err as Error).message}), got ${JSON.stringify(source)}`,
    );
  }
}

/** Runs a job at start and then every `intervalMs`, never two at once; errors are logged. */
export class Sweeper {
  #timer: ReturnType<typeof setInterval> | null = null;
  #running: Promise<void> | null = null;
  constructor(
    private readonly intervalMs: number,
    private readonly job: () => Promise<void>,
    private readonly log: (l: string) => void,
  ) {}
  start() {
    this.#timer = setInterval(() => void this.run(), this.intervalMs);
    void this.run();
  }
  run(): Promise<void> {
    this.#running ??= this.job()
      .catch((err) => this.log(`sweeper: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => (this.#running = null));
    return this.#running;
  }
  async stop() {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }
}

/** Fails at start, with what to do, rather than at the first upload. */
async function ensureWritable(dir: string) {
  try {
    await mkdir(dir, { recursive: true });
    const probe = join(dir, `.write-test-${process.pid}`);
    await writeFile(probe, "");
    await unlink(probe);
  } catch (err) {
    throw new Error(
      `data directory ${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): fix its permissions or choose another with --data-dir / IMGD_DATA_DIR`,
    );
  }
}

/**
 * The signing secret: IMGD_SECRET, or the one in the database, so that a URL signed by one node
 * verifies on every other. A data directory from before keeps its secret.key: its key moves
 * into the database on the first start (and the file stays, for an older imgd).
 */
async function signingSecret(config: Config, settings: Settings): Promise<Uint8Array> {
  if (config.secret) {
    return /^[0-9a-f]{64}$/i.test(config.secret)
      ? Buffer.from(config.secret, "hex")
      : Buffer.from(config.secret, "utf8");
  }
  const hex = await settings.ensure("signing_secret", async () => {
    const file = join(config.dataDir, "secret.key");
    const text = await readFile(file, "utf8").catch((err) => {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    });
    if (text === null) return randomBytes(32).toString("hex");
    if (/^[0-9a-f]{64}$/.test(text.trim())) return text.trim();
    throw new Error(
      `${file} is damaged: delete it to create a new one (signed URLs made with the old one stop working)`,
    );
  });
  if (!config.databaseUrl) await keepSecretFile(join(config.dataDir, "secret.key"), hex);
  return Buffer.from(hex, "hex");
}

/** SQLite's data directory keeps a copy for backups and older imgd versions. */
async function keepSecretFile(file: string, hex: string) {
  // "wx": never overwrite one that is there.
  await writeFile(file, `${hex}\n`, { flag: "wx", mode: 0o600 }).catch((err) => {
    if (err.code !== "EEXIST") throw err;
  });
}

/** The storage as /ready probes it. */
function storageDependency(storage: object, dataDir: string) {
  // A driver may say what it is and how to reach it; the filesystem answers when its directory does.
  const s = storage as { kind?: string; ping?: () => Promise<void> };
  return {
    kind: s.kind ?? "filesystem",
    ping:
      s.ping?.bind(storage) ??
      (async () => {
        await stat(dataDir);
      }),
  };
}
