import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { CodecPool, defaultPoolSize } from "../codecs/pool.ts";
import type { Config } from "./config.ts";
import { type Bus, localBus, openPostgresBus, withLocalEcho } from "./db/bus.ts";
import { type DatabaseTarget, type Db, openDatabase, ping } from "./db/connection.ts";
import { Leases } from "./db/leases.ts";
import { Settings } from "./db/settings.ts";
import { blobKnown, blobTotals } from "./db/stats.ts";
import { Health } from "./domain/health.ts";
import { signingSecret } from "./domain/tokens/secret.ts";
import { Tokens } from "./domain/tokens/tokens.ts";
import { AccessLog } from "./observability/access-log.ts";
import { Telemetry } from "./observability/telemetry.ts";
import type { Runtime } from "./runtime/index.ts";
import { ensureWritable } from "./store/fs/index.ts";
import { type BlobStore, openStorage, periodicSweep, type Storage } from "./store/index.ts";
import { VariantIndex } from "./store/variant-index.ts";

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
 * What one imgd runs on, below its use cases: the database, the other nodes, the storage and
 * the variant index, the signing secret, the codec workers, and what watches them.
 */
export interface Platform {
  db: Db;
  /** Changes told to (and heard from) this node's parts and the other nodes on the same database. */
  bus: Bus;
  leases: Leases;
  /** Makes and checks every signed thing (key: IMGD_SECRET, or created on first start and kept in the database). */
  tokens: Tokens;
  storage: Storage;
  blobs: BlobStore;
  variants: VariantIndex;
  /** What this node runs on, and whether both answer (/health, /ready). */
  health: Health;
  pool: CodecPool;
  /** Settles when the codec workers are warm (rejects when they cannot start). */
  codecsReady: Promise<void>;
  /** Prometheus metrics of this instance (its own registry). */
  telemetry: Telemetry;
  accessLog: AccessLog;
  /** The storage's share of the periodic sweep (S3 only; see periodicSweep). */
  sweepStorage: () => Promise<void>;
}

export async function openPlatform(
  config: Config,
  runtime: Runtime,
  log: (line: string) => void,
  run: RunOptions,
): Promise<Platform> {
  const { codecs = true, background = true } = run;
  const target: DatabaseTarget = config.databaseUrl
    ? { kind: "postgres", url: config.databaseUrl, poolSize: config.databasePoolSize }
    : { kind: "sqlite", file: join(config.dataDir, "imgd.sqlite") };
  if (target.kind === "sqlite") await ensureWritable(config.dataDir);
  const db = await openDatabase(runtime, target);
  // This process among the nodes on one database (leases it holds, changes it announces).
  const node = randomBytes(8).toString("hex");
  const bus = withLocalEcho(target.kind === "postgres" ? await openPostgresBus(db, target.url, node, log) : localBus());
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
  const health = new Health({ kind: target.kind, ping: () => ping(db) }, storage);
  // Start-up recovery removes files no row names yet: right for the one process owning a data
  // directory, wrong beside other nodes writing to the same storage at this moment.
  const recover = background && target.kind === "sqlite";
  if (recover) {
    // Claims of a process that crashed here would otherwise hold up its variants until they lapse.
    await leases.clear();
    await storage.sweep((hash) => blobKnown(db, hash));
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
  const variants = new VariantIndex(
    db,
    storage.variants,
    config.variantCacheBytes,
    config.now,
    target.kind === "postgres",
    // Delivery's caches hear of it (here and on the other nodes) and forget what pointed at them.
    (keys) => bus.publish({ kind: "variants", keys }),
  );
  await variants.init({ sweep: recover });
  const telemetry = new Telemetry({ pool, variants, blobTotals: () => blobTotals(db) });
  const accessLog = new AccessLog(config.accessLog, (line) => process.stdout.write(`${line}\n`));
  const blobs = storage.blobs;
  // Listing a bucket is not free: a few times per age an object must reach to be swept.
  const everyMs = Math.max(config.sweepIntervalMs, config.storageSweepAgeMs / 4);
  const sweepStorage = periodicSweep(storage, (hash) => blobKnown(db, hash), everyMs, log);
  return {
    db,
    bus,
    leases,
    tokens,
    storage,
    blobs,
    variants,
    health,
    pool,
    codecsReady,
    telemetry,
    accessLog,
    sweepStorage,
  };
}
