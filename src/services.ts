import { mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { CodecPool, defaultPoolSize } from "../codecs/pool.ts";
import { type Config, ConfigError } from "./config.ts";
import { type Db, openDatabase } from "./db/connection.ts";
import { Delivery } from "./domain/delivery/deliver.ts";
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
import { Fetcher } from "./domain/fetcher/fetcher.ts";
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
import { VariantCache } from "./store/variants.ts";

/** Everything one imgd instance owns; built once by createImgd, passed to routes explicitly. */
export interface Services {
  config: Config;
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
  variants: VariantCache;
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
  /** Makes and checks every signed thing (key: created on first start, kept in the data dir). */
  tokens: Tokens;
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
export type AppServices = Omit<Services, "db" | "blobs" | "pool" | "variants" | "sweeper">;

/** AppServices as a new object, so `db` and the stores are not even there to reach. */
export function appServices(s: Services): AppServices {
  const { db: _db, blobs: _blobs, pool: _pool, variants: _variants, sweeper: _sweeper, ...rest } = s;
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
  await ensureWritable(config.dataDir);
  const tokens = new Tokens(await loadSecret(config.dataDir), config.now);
  const db = await openDatabase(runtime, join(config.dataDir, "imgd.sqlite"));
  const storage = await openStorage({
    dataDir: config.dataDir,
    fileBody: runtime.fileBody,
    url: config.storageUrl,
    localCacheBytes: config.localCacheBytes,
  });
  const blobs = storage.blobs;
  if (background) {
    await storage.archives.sweep();
    await blobs.sweep((hash) => blobKnown(db, hash));
  }
  const pool = new CodecPool({
    size: config.workers ?? defaultPoolSize(),
    maxQueue: config.queueLimit,
    jobTimeoutMs: config.jobTimeoutMs,
    maxSourcePixels: config.maxSourcePixels,
    maxAnimationFrames: config.maxAnimationFrames,
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
  const metering = new Metering({ db, usage, plans, now: config.now, enabled: config.metering });
  const metrics = new Metrics(usage, config.now);
  const variants = new VariantCache(db, storage.variants, config.variantCacheBytes, config.now);
  await variants.init({ sweep: background });
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
  const delivery = new Delivery({
    users,
    images,
    presets,
    blobs,
    variants,
    pool,
    admitTransformation: (userId) => metering.admitTransformation(userId),
    admitView: (user) => metering.admitView(user),
    onServed: (d) => {
      telemetry.delivered(d.cache, d.size);
      metering.countDelivery(d.userId, d.size, d.cache);
    },
    requireFeature: (user, feature) => metering.requireFeature(user, feature),
    onTransformed: (format, seconds) => telemetry.transformed(format, seconds),
    tokens,
    now: config.now,
    maxOutputPixels: config.maxSourcePixels,
    memoryCacheBytes: config.memoryCacheBytes,
  });
  variants.onRemoved = (keys) => delivery.forgetVariants(keys);
  const rates = new RateLimits(db, config.now);
  const passwords = new Passwords(db, config.now);
  const sessions = new Sessions(db, config.now);
  const signins = new SignInGuard(db, config.now);
  const auth = new Auth({
    keys,
    metering,
    sessions,
    site: { publicUrl: config.publicUrl, trustedProxies: parseCidrList(config.trustProxy), basePath: config.basePath },
  });
  const media = new Media(db, images, config.now);
  const accounts = new Accounts({ db, users, keys, images, rates, now: config.now });
  const fetcher = new Fetcher({
    allow: parseCidrList(config.importAllowNetworks),
    timeoutMs: config.importTimeoutMs,
    connect: runtime.connect,
  });
  const telemetry = new Telemetry({ pool, variants, blobTotals: () => blobTotals(db) });
  const accessLog = new AccessLog(config.accessLog, (line) => process.stdout.write(`${line}\n`));
  const imgwire = buildImgwire({
    config,
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
  const sweeper = new Sweeper(
    config.sweepIntervalMs,
    async () => {
      await imgwire.sweep();
      await media.sweepExpired();
      await rates.prune();
      await sessions.prune();
    },
    log,
  );
  if (background) sweeper.start();
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
    trustedProxies: parseCidrList(config.trustProxy),
    sweeper,
    tokens,
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

async function loadSecret(dataDir: string): Promise<Uint8Array> {
  const file = join(dataDir, "secret.key");
  try {
    const hex = (await readFile(file, "utf8")).trim();
    if (/^[0-9a-f]{64}$/.test(hex)) return Buffer.from(hex, "hex");
    throw new Error(
      `${file} is damaged: delete it to create a new one (signed URLs made with the old one stop working)`,
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const key = randomBytes(32);
  // "wx": two processes starting at once must not both write a different secret.
  await writeFile(file, key.toString("hex") + "\n", { flag: "wx", mode: 0o600 }).catch(async (err) => {
    if (err.code !== "EEXIST") throw err;
  });
  return Buffer.from((await readFile(file, "utf8")).trim(), "hex");
}
