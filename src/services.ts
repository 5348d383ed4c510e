import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { CodecPool, defaultPoolSize } from "../codecs/pool.ts";
import type { Config } from "./config.ts";
import { type Db, openDatabase } from "./db/connection.ts";
import { Delivery } from "./delivery/deliver.ts";
import { Images } from "./domain/images.ts";
import { Keys } from "./domain/keys.ts";
import { Presets } from "./domain/presets.ts";
import { Usage } from "./domain/usage.ts";
import { Users } from "./domain/users.ts";
import { Accounts } from "./domain/accounts.ts";
import { parseCidrList } from "./domain/addresses.ts";
import { Fetcher } from "./domain/fetcher.ts";
import { buildImgwire, type ImgwireServices } from "./domain/imgwire.ts";
import { Media } from "./domain/media.ts";
import { Metering } from "./domain/metering.ts";
import { Metrics } from "./domain/metrics.ts";
import { Plans } from "./domain/plans.ts";
import { AccessLog } from "./http/metrics/access-log.ts";
import { Telemetry } from "./http/metrics/telemetry.ts";
import { RateLimits } from "./domain/ratelimits.ts";
import type { Runtime } from "./runtime/index.ts";
import { FsBlobStore } from "./store/blobs.ts";
import { VariantCache } from "./store/variants.ts";

/** Everything one imgd instance owns; built once by createImgd, passed to routes explicitly. */
export interface Services {
  config: Config;
  runtime: Runtime;
  db: Db;
  blobs: FsBlobStore;
  pool: CodecPool;
  users: Users;
  keys: Keys;
  images: Images;
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
  fetcher: Fetcher;
  imgwire: ImgwireServices;
  /** Proxies whose X-Forwarded-For is believed (IMGD_TRUST_PROXY). */
  trustedProxies: ReturnType<typeof parseCidrList>;
  /** Removes expired images now and then; stopped by close. */
  sweeper: Sweeper;
  /** HMAC key for signed URLs, created on first start and kept in the data dir. */
  secret: Uint8Array;
  log: (line: string) => void;
}

export async function buildServices(config: Config, runtime: Runtime, log: (line: string) => void): Promise<Services> {
  await ensureWritable(config.dataDir);
  const secret = await loadSecret(config.dataDir);
  const db = await openDatabase(runtime, join(config.dataDir, "imgd.sqlite"));
  const blobs = new FsBlobStore(config.dataDir);
  await blobs.init();
  await blobs.sweep(async (hash) => !!(await db.selectFrom("blobs").select("hash").where("hash", "=", hash).executeTakeFirst()));
  const pool = new CodecPool({
    size: config.workers ?? defaultPoolSize(),
    maxQueue: config.queueLimit,
    jobTimeoutMs: config.jobTimeoutMs,
    maxSourcePixels: config.maxSourcePixels,
    effort: { avif: config.avifEffort, webp: config.webpEffort },
  });
  // Not awaited: the server listens while the workers warm up, and jobs wait for a warm one.
  // A failed start closes the pool (jobs get 503); `imgd serve` exits on it (see cli/serve.ts).
  pool.start().catch((err) => log(`codec workers failed to start: ${err instanceof Error ? err.message : String(err)}`));
  const users = new Users(db, config.now);
  const keys = new Keys(db, config.now);
  const presets = new Presets(db, config.now);
  const usage = new Usage(db, config.now);
  const plans = new Plans(config.plans);
  const metering = new Metering({ db, usage, plans, now: config.now, enabled: config.metering });
  const metrics = new Metrics(usage, config.now);
  const variants = new VariantCache(db, config.dataDir, config.variantCacheBytes, config.now);
  await variants.init();
  const images = new Images({
    db,
    blobs,
    inspect: (bytes) => pool.inspect(bytes, { transfer: true }),
    countUpload: (trx, userId, bytes) => metering.countUpload(trx, userId, bytes),
    onChanged: (userId) => delivery.forgetUser(userId),
    onBlobsReleased: (hashes) => variants.deleteForBlobs(hashes),
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
    onTransformed: (format, seconds) => telemetry.transformed(format, seconds),
    secret,
    now: config.now,
    maxOutputPixels: config.maxSourcePixels,
    memoryCacheBytes: config.memoryCacheBytes,
  });
  variants.onRemoved = (keys) => delivery.forgetVariants(keys);
  const rates = new RateLimits(db, config.now);
  const media = new Media(db, images, config.now);
  const accounts = new Accounts({ db, users, keys, images, rates, now: config.now });
  const fetcher = new Fetcher({ allow: parseCidrList(config.importAllowNetworks), timeoutMs: config.importTimeoutMs });
  const telemetry = new Telemetry({ db, pool, variants });
  const accessLog = new AccessLog(config.accessLog, (line) => process.stdout.write(`${line}\n`));
  const imgwire = buildImgwire({ config, db, keys, users, accounts, images, blobs, fetcher, secret, log });
  const sweeper = new Sweeper(config.sweepIntervalMs, async () => {
    await imgwire.sweep();
    await media.sweepExpired();
    await rates.prune();
  }, log);
  sweeper.start();
  return {
    config, runtime, db, blobs, pool, users, keys, images, presets, usage, variants, delivery,
    media, accounts, plans, metering, metrics, telemetry, accessLog, rates, fetcher, imgwire, trustedProxies: parseCidrList(config.trustProxy), sweeper, secret, log,
  };
}

/** Runs a job at start and then every `intervalMs`, never two at once; errors are logged. */
export class Sweeper {
  #timer: ReturnType<typeof setInterval> | null = null;
  #running: Promise<void> | null = null;
  constructor(private readonly intervalMs: number, private readonly job: () => Promise<void>, private readonly log: (l: string) => void) {}
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
    await rm(probe);
  } catch (err) {
    throw new Error(`data directory ${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): fix its permissions or choose another with --data-dir / IMGD_DATA_DIR`);
  }
}

async function loadSecret(dataDir: string): Promise<Uint8Array> {
  const file = join(dataDir, "secret.key");
  try {
    const hex = (await readFile(file, "utf8")).trim();
    if (/^[0-9a-f]{64}$/.test(hex)) return Buffer.from(hex, "hex");
    throw new Error(`${file} is damaged: delete it to create a new one (signed URLs made with the old one stop working)`);
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
