import { type DatabaseConnection, type Driver, Kysely, SqliteDialect, type TransactionSettings } from "kysely";
import { Migrator } from "kysely/migration";
import type { Runtime, SqliteDatabase } from "../runtime/index.ts";
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

export async function openDatabase(runtime: Runtime, file: string): Promise<Db> {
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
  const db = new Kysely<Database>({ dialect: new SerializedSqliteDialect({ database: raw }) });
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    await db.destroy();
    throw new Error(`database migration ${failed} failed: ${(error as Error).message ?? error}`);
  }
  return db;
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
  const unknown = appliedMigrations(raw).filter((name) => !knownMigrations.includes(name));
  if (unknown.length === 0) return;
  throw new Error(
    `this data directory was written by a newer imgd (database migration ${unknown.join(", ")}; this imgd knows up to ${knownMigrations.at(-1)}): run that newer imgd, or restore a backup made with this version into an empty data directory`,
  );
}
