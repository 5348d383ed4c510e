import {
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresAdapter,
  PostgresDialect,
  SqliteDialect,
  sql,
  type SelectQueryBuilder,
  type TransactionSettings,
} from "kysely";
import { Migrator } from "kysely/migration";
import pg from "pg";
import type { Runtime, SqliteDatabase } from "../runtime/index.ts";
import { JsonColumns } from "./json.ts";
import { migrations } from "./migrations/index.ts";
import type { Database } from "./schema.ts";

/**
 * Kysely's SQLite driver hands its single connection to every caller at once, so a query from
 * one request could run inside another request's open transaction. This driver queues callers:
 * a transaction holds the connection until it commits or rolls back.
 */
class SerializedDriver implements Driver {
  #queue: Promise<void> = Promise.resolve();
  #release: (() => void) | null = null;
  constructor(private readonly inner: Driver) {}
  init() {
    return this.inner.init();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    const prev = this.#queue;
    let release!: () => void;
    this.#queue = new Promise((r) => (release = r));
    await prev;
    this.#release = release;
    return this.inner.acquireConnection();
  }
  async releaseConnection(connection: DatabaseConnection) {
    await this.inner.releaseConnection(connection);
    const release = this.#release;
    this.#release = null;
    release?.();
  }
  beginTransaction(c: DatabaseConnection, s: TransactionSettings) {
    return this.inner.beginTransaction(c, s);
  }
  commitTransaction(c: DatabaseConnection) {
    return this.inner.commitTransaction(c);
  }
  rollbackTransaction(c: DatabaseConnection) {
    return this.inner.rollbackTransaction(c);
  }
  destroy() {
    return this.inner.destroy();
  }
}

class SerializedSqliteDialect extends SqliteDialect {
  override createDriver(): Driver {
    return new SerializedDriver(super.createDriver());
  }
}

export type Db = Kysely<Database>;

/** Where the library lives: SQLite in the data directory, or a PostgreSQL server. */
export type DatabaseTarget = { kind: "sqlite"; file: string } | { kind: "postgres"; url: string; poolSize: number };

export type DatabaseKind = DatabaseTarget["kind"];

export function kindOf(db: Db): DatabaseKind {
  return db.getExecutor().adapter instanceof PostgresAdapter ? "postgres" : "sqlite";
}

/**
 * A job's claim: on PostgreSQL the selected rows are locked until the transaction ends, and
 * rows another node has locked are skipped rather than waited for (FOR UPDATE SKIP LOCKED).
 * SQLite has one writer at a time, so there is nothing to lock.
 */
export function lockSkippingLocked<DB, TB extends keyof DB, O>(
  db: Pick<Db, "getExecutor">,
  query: SelectQueryBuilder<DB, TB, O>,
): SelectQueryBuilder<DB, TB, O> {
  return db.getExecutor().adapter instanceof PostgresAdapter ? query.forUpdate().skipLocked() : query;
}

/**
 * Within a transaction: waits until no other transaction holds any of these names, then holds
 * them until this one ends. Checks made inside (a tenant's storage left, a path free, a blob
 * still used) then stay true until the write: PostgreSQL's transactions run side by side,
 * SQLite's one at a time (so there it is nothing). Names are taken in sorted order, so two
 * transactions never wait on each other.
 */
export async function lockNames(trx: Pick<Db, "getExecutor">, names: string[]): Promise<void> {
  if (!(trx.getExecutor().adapter instanceof PostgresAdapter)) return;
  for (const name of [...new Set(names)].sort()) {
    await sql`select pg_advisory_xact_lock(hashtextextended(${name}, 0))`.execute(trx as Db);
  }
}

/** Answers when the database does (for /ready). */
export async function ping(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}

export async function openDatabase(runtime: Runtime, target: DatabaseTarget | string): Promise<Db> {
  if (typeof target === "string") target = { kind: "sqlite", file: target };
  const db = target.kind === "postgres" ? openPostgres(target.url, target.poolSize) : openSqlite(runtime, target.file);
  try {
    if (target.kind === "postgres") refuseUnknown(await appliedOnServer(db), "this database");
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
      throw new Error(`database migration ${failed} failed: ${(error as Error).message ?? error}`);
    }
  } catch (err) {
    await db.destroy();
    throw target.kind === "postgres" ? postgresError(err, target.url) : err;
  }
  return db;
}

function openSqlite(runtime: Runtime, file: string): Db {
  const raw = runtime.openSqlite(file);
  for (const pragma of [
    "journal_mode = WAL",
    "synchronous = NORMAL",
    "foreign_keys = ON",
    // LIKE as PostgreSQL has it, so queries mean the same on both.
    "case_sensitive_like = ON",
    // Another process (the CLI creating a key) may hold the write lock for a moment.
    "busy_timeout = 5000",
  ]) {
    raw.prepare(`PRAGMA ${pragma}`).all([]);
  }
  try {
    refuseNewerDatabase(raw);
  } catch (err) {
    raw.close();
    throw err;
  }
  return new Kysely<Database>({
    dialect: new SerializedSqliteDialect({ database: raw }),
    plugins: [new JsonColumns()],
  });
}

// bigint columns (times in ms, byte counts) and count(*)/sum() come back from pg as strings
// (int8, numeric); every value imgd keeps there fits a double, as SQLite hands them out.
const INT8 = 20;
const NUMERIC = 1700;
const asNumber = (v: string) => Number(v);

function openPostgres(url: string, poolSize: number): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    // A request waits this long for a connection (the pool full, or the server not answering)
    // before it is answered 503: long enough for a busy moment, short enough not to pile up.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: "imgd",
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8 || oid === NUMERIC
          ? asNumber
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // A connection the server dropped (a restart, a failover) must not end the process: an idle
  // one is replaced at the next query; one checked out by a query fails that query (a 503)
  // and is dropped when released. pg emits `error` on the client either way, and a checked-out
  // client has no listener of the pool's, so every client gets one of its own.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [new JsonColumns()] });
}

/** Migrations a PostgreSQL database has applied (none for a new one). */
async function appliedOnServer(db: Db): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`
    .execute(db)
    .catch((err) => {
      // 42P01: no such table (a new database).
      if ((err as { code?: string }).code === "42P01") return { rows: [] };
      throw err;
    });
  return rows.map((r) => r.name);
}

/** The connection string without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}

function postgresError(err: unknown, url: string): Error {
  const e = err as Error & { code?: string };
  if (e.message?.startsWith("database migration") || e.message?.includes("newer imgd")) return e;
  return new Error(
    `cannot use the PostgreSQL database at ${redactUrl(url)} (${e.code ? `${e.code}: ` : ""}${e.message}): check IMGD_DATABASE_URL, that the server is running and that the user may create tables in that database`,
  );
}

/** Migrations this build knows, oldest first. */
export const knownMigrations: readonly string[] = Object.keys(migrations).sort();

/** The migrations a database has applied, oldest first (none for a new file). */
export function appliedMigrations(raw: SqliteDatabase): string[] {
  const table = raw
    .prepare("select name from sqlite_master where type = 'table' and name = 'kysely_migration'")
    .all([]);
  if (table.length === 0) return [];
  return (raw.prepare("select name from kysely_migration order by name").all([]) as { name: string }[]).map(
    (r) => r.name,
  );
}

/**
 * A database migrated by a newer imgd has tables and columns this build does not know; running
 * on it could lose data, so it stops before touching anything.
 */
export function refuseNewerDatabase(raw: SqliteDatabase) {
  refuseUnknown(appliedMigrations(raw));
}

function refuseUnknown(applied: string[], what = "this data directory") {
  const unknown = applied.filter((name) => !knownMigrations.includes(name));
  if (unknown.length === 0) return;
  throw new Error(
    `${what} was written by a newer imgd (database migration ${unknown.join(", ")}; this imgd knows up to ${knownMigrations.at(-1)}): run that newer imgd, or restore a backup made with this version into an empty data directory`,
  );
}
