// imgd migrate: copies one instance (database + storage) into another, e.g. SQLite + files to
// PostgreSQL + S3, or back to a laptop. Blobs first, rows after, so the target never holds a
// row whose object is missing even if a run is cut off; every step compares before it writes,
// so a second run copies nothing and an interrupted one resumes where it stopped.

import { join } from "node:path";
import { sql } from "kysely";
import { type DatabaseTarget, type Db, kindOf, openDatabase } from "../db/connection.ts";
import type { Runtime } from "../runtime/index.ts";
import { openStorage, type Storage } from "../store/index.ts";
import { OpsError } from "./backup.ts";
import { progressReporter } from "./layout.ts";

/** A database as `imgd migrate` names one: a postgres:// URL, or a SQLite file. */
export function databaseTarget(value: string, poolSize = 4): DatabaseTarget {
  if (/^postgres(ql)?:\/\//i.test(value)) return { kind: "postgres", url: value, poolSize };
  return { kind: "sqlite", file: value.replace(/^sqlite:(\/\/)?/, "") };
}

export interface Instance {
  database: DatabaseTarget;
  /** s3://bucket/prefix, or undefined for files under `dataDir`. */
  storageUrl?: string;
  /** Holds the SQLite file and the blob files of a file-based instance. */
  dataDir: string;
}

export interface MigrateReport {
  blobsCopied: number;
  blobsPresent: number;
  /** Blobs whose bytes did not hash to their name: not copied (nor the rows naming them). */
  blobsBad: string[];
  rowsCopied: number;
  rowsRemoved: number;
  tables: Record<string, { copied: number; removed: number; rows: number }>;
}

/** Tables that are not moved: the variant cache (rebuilt on demand), windows and leases of the running nodes. */
const SKIPPED = new Set(["variants", "rate_windows", "leases"]);

export async function migrate(
  from: Instance,
  to: Instance,
  options: { runtime: Runtime; env: Record<string, string | undefined>; quiet?: boolean },
): Promise<MigrateReport> {
  const log = (line: string) => {
    if (!options.quiet) process.stderr.write(`${line}\n`);
  };
  if (same(from, to))
    throw new OpsError("the target is the instance itself: give another --to-database or --to-storage");
  const source = await openDatabase(options.runtime, from.database);
  try {
    const target = await openDatabase(options.runtime, to.database);
    try {
      const src = await openStorage({ dataDir: from.dataDir, url: from.storageUrl, env: options.env });
      const dst = await openStorage({ dataDir: to.dataDir, url: to.storageUrl, env: options.env });
      log(`imgd migrate: ${describe(from, src)} -> ${describe(to, dst)}`);
      await refuseForeign(source, target);
      const report: MigrateReport = {
        blobsCopied: 0,
        blobsPresent: 0,
        blobsBad: [],
        rowsCopied: 0,
        rowsRemoved: 0,
        tables: {},
      };
      await copyBlobs(source, src, dst, report, !!options.quiet);
      await copyTables(source, target, report, !!options.quiet, new Set(report.blobsBad));
      log(
        `imgd migrate: ${report.blobsCopied} blobs copied (${report.blobsPresent} there already), ` +
          `${report.rowsCopied} rows copied, ${report.rowsRemoved} removed` +
          (report.blobsBad.length ? `; ${report.blobsBad.length} damaged blobs NOT copied` : ""),
      );
      return report;
    } finally {
      await target.destroy();
    }
  } finally {
    await source.destroy();
  }
}

function same(a: Instance, b: Instance) {
  const db = (i: Instance) => (i.database.kind === "postgres" ? i.database.url : i.database.file);
  const store = (i: Instance) => i.storageUrl ?? join(i.dataDir, "blobs");
  return db(a) === db(b) && store(a) === store(b);
}

function describe(i: Instance, s: Storage) {
  const db = i.database.kind === "postgres" ? redact(i.database.url) : i.database.file;
  return `${i.database.kind} ${db} + ${s.kind} ${s.location}`;
}

function redact(url: string) {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}

/** A target holding another instance's library would be overwritten: refuse, unless it is this one's earlier copy. */
async function refuseForeign(source: Db, target: Db) {
  const theirs = await target.selectFrom("users").select("id").execute();
  if (theirs.length === 0) return;
  const ours = new Set((await source.selectFrom("users").select("id").execute()).map((r) => r.id));
  if (!theirs.some((r) => ours.has(r.id)))
    throw new OpsError(
      "the target database holds another instance's users: migrate into an empty database (or an earlier copy of this one)",
    );
}

/** Every blob a row names, streamed into the target store and hashed on arrival. */
async function copyBlobs(source: Db, src: Storage, dst: Storage, report: MigrateReport, quiet: boolean) {
  const hashes = (await source.selectFrom("blobs").select("hash").orderBy("hash").execute()).map((r) => r.hash);
  const progress = progressReporter("blobs", quiet);
  let done = 0;
  for (const hash of hashes) {
    if (await dst.blobs.exists(hash)) report.blobsPresent++;
    else {
      const object = await src.blobs.open(hash);
      if (!object) throw new OpsError(`blob ${hash} is missing from the source storage: run imgd doctor on it first`);
      const staged = await dst.blobs.stage(chunksOf(object.stream()), Number.MAX_SAFE_INTEGER);
      try {
        if (staged.hash !== hash) {
          process.stderr.write(
            `imgd migrate: blob ${hash} is damaged (its bytes hash to ${staged.hash}): not copied\n`,
          );
          report.blobsBad.push(hash);
        } else {
          await staged.commit();
          report.blobsCopied++;
        }
      } finally {
        await staged.discard();
      }
    }
    progress.step(++done, hashes.length);
  }
}

interface TableInfo {
  name: string;
  columns: string[];
  key: string[];
  parents: string[];
}

async function copyTables(source: Db, target: Db, report: MigrateReport, quiet: boolean, badBlobs: Set<string>) {
  const tables = order(await tablesOf(source));
  const targetTables = new Map((await tablesOf(target)).map((t) => [t.name, t]));
  for (const t of tables) {
    if (!targetTables.has(t.name))
      throw new OpsError(`the target database has no table ${t.name}: is it an older imgd? Upgrade it first`);
  }
  // Children first when removing, parents first when adding, for the foreign keys.
  for (const t of [...tables].reverse()) {
    const { removed } = await syncTable(source, target, t, "remove", badBlobs);
    report.rowsRemoved += removed;
    report.tables[t.name] = { copied: 0, removed, rows: 0 };
  }
  const progress = progressReporter("tables", quiet);
  let done = 0;
  for (const t of tables) {
    const { copied, rows } = await syncTable(source, target, t, "add", badBlobs);
    report.rowsCopied += copied;
    report.tables[t.name] = { ...report.tables[t.name], copied, rows };
    progress.step(++done, tables.length);
  }
}

/** Rows as comparable strings: binary columns as hex, so both drivers' buffers compare. */
function norm(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? Buffer.from(x).toString("hex") : x));
}

async function syncTable(
  source: Db,
  target: Db,
  t: TableInfo,
  step: "remove" | "add",
  badBlobs: Set<string>,
): Promise<{ copied: number; removed: number; rows: number }> {
  const db = source as unknown as Db & { selectFrom(t: string): any };
  const keyOf = (r: Record<string, unknown>) => norm(t.key.map((k) => r[k]));
  // Rows are copied as stored: JSON columns stay text.
  const read = async (d: Db) =>
    (await (d.withoutPlugins() as any)
      .selectFrom(t.name)
      .select(t.columns)
      .orderBy(t.key.length ? t.key : t.columns)
      .execute()) as Record<string, unknown>[];
  // Rows naming a damaged blob stay behind with it: no row without its object.
  const skipRow = (r: Record<string, unknown>) =>
    badBlobs.size > 0 &&
    ((t.name === "blobs" && badBlobs.has(r.hash as string)) ||
      (typeof r.blob_hash === "string" && badBlobs.has(r.blob_hash)));
  const from = new Map((await read(db)).filter((r) => !skipRow(r)).map((r) => [keyOf(r), r]));
  const to = new Map((await read(target)).map((r) => [keyOf(r), r]));
  const where = (q: any, r: Record<string, unknown>) => t.key.reduce((q2, k) => q2.where(k, "=", r[k]), q);
  if (step === "remove") {
    let removed = 0;
    for (const [k, r] of to) {
      if (from.has(k)) continue;
      await where((target as any).deleteFrom(t.name), r).execute();
      removed++;
    }
    return { copied: 0, removed, rows: to.size };
  }
  const inserts: Record<string, unknown>[] = [];
  let copied = 0;
  for (const [k, r] of from) {
    const there = to.get(k);
    if (!there) inserts.push(r);
    else if (norm(there) !== norm(r)) {
      const { ...values } = r;
      for (const key of t.key) delete values[key];
      await where((target as any).updateTable(t.name).set(values), r).execute();
      copied++;
    }
  }
  // Batches stay under both databases' limits on bound parameters.
  const batch = Math.max(1, Math.floor(2000 / Math.max(1, t.columns.length)));
  for (let i = 0; i < inserts.length; i += batch) {
    await (target as any)
      .insertInto(t.name)
      .values(inserts.slice(i, i + batch))
      .execute();
    copied += Math.min(batch, inserts.length - i);
  }
  return { copied, removed: 0, rows: from.size };
}

/** The tables, their columns, primary keys and the tables their foreign keys point at. */
async function tablesOf(db: Db): Promise<TableInfo[]> {
  const pg = kindOf(db) === "postgres";
  const metas = (await db.introspection.getTables()).filter(
    (m) => !SKIPPED.has(m.name) && !m.isView && (!pg || m.schema === undefined || m.schema === "public"),
  );
  const out: TableInfo[] = [];
  for (const m of metas) {
    let key: string[];
    let parents: string[];
    if (pg) {
      key = (
        await sql<{ col: string }>`
          select kcu.column_name as col
          from information_schema.table_constraints tc
          join information_schema.key_column_usage kcu
            on tc.constraint_name = kcu.constraint_name and tc.table_schema = kcu.table_schema
          where tc.constraint_type = 'PRIMARY KEY' and tc.table_schema = current_schema() and tc.table_name = ${m.name}
          order by kcu.ordinal_position`.execute(db)
      ).rows.map((r) => r.col);
      parents = (
        await sql<{ ref: string }>`
          select distinct ccu.table_name as ref
          from information_schema.table_constraints tc
          join information_schema.constraint_column_usage ccu
            on tc.constraint_name = ccu.constraint_name and tc.table_schema = ccu.table_schema
          where tc.constraint_type = 'FOREIGN KEY' and tc.table_schema = current_schema() and tc.table_name = ${m.name}`.execute(
          db,
        )
      ).rows.map((r) => r.ref);
    } else {
      key = (
        await sql<{ name: string }>`select name from pragma_table_info(${m.name}) where pk > 0 order by pk`.execute(db)
      ).rows.map((r) => r.name);
      parents = (
        await sql<{ ref: string }>`select distinct "table" as ref from pragma_foreign_key_list(${m.name})`.execute(db)
      ).rows.map((r) => r.ref);
    }
    const columns = m.columns.map((c) => c.name);
    out.push({ name: m.name, columns, key: key.length ? key : columns, parents });
  }
  return out;
}

/** Parents before children. */
function order(tables: TableInfo[]): TableInfo[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const out: TableInfo[] = [];
  const seen = new Set<string>();
  const visit = (t: TableInfo) => {
    if (seen.has(t.name)) return;
    seen.add(t.name);
    for (const p of t.parents) {
      const parent = byName.get(p);
      if (parent && p !== t.name) visit(parent);
    }
    out.push(t);
  };
  for (const t of [...tables].sort((a, b) => a.name.localeCompare(b.name))) visit(t);
  return out;
}

async function* chunksOf(stream: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) yield r.value;
  } finally {
    reader.releaseLock();
  }
}
