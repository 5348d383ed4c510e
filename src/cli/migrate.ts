import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { configFromEnv, resolveConfig } from "../config.ts";
import { databaseTarget, type Instance, migrate } from "../ops/migrate.ts";
import { detectRuntime } from "../runtime/index.ts";
import { type FlagSpec, formatFlags, parseArgs, UsageError } from "./args.ts";
import { exitOnOpsError } from "./ops-errors.ts";

const flags: Record<string, FlagSpec> = {
  "to-database": {
    arg: "url|file",
    help: "Target database: postgres://user:password@host:5432/db, or a SQLite file (made if missing)",
  },
  "to-storage": {
    arg: "url|dir",
    help: "Target storage: s3://bucket/prefix, or a directory for files (blobs/ under it)",
  },
  "data-dir": { arg: "dir", help: "Data directory of the source instance [IMGD_DATA_DIR, default ./data]" },
  quiet: { boolean: true, help: "Print nothing but errors" },
  help: { boolean: true, help: "Show this help" },
};

export const migrateHelp = `Usage: imgd migrate --to-database <url|file> --to-storage <url|dir> [--data-dir ./data]

Copies an imgd instance into another database and storage: SQLite + files to PostgreSQL + S3
when one machine is no longer enough, or the other way for a copy on a laptop.

The source is the instance this environment runs: IMGD_DATABASE_URL (default: imgd.sqlite in
the data directory) and IMGD_STORAGE_URL (default: files in the data directory). S3 storage,
source or target, is reached with AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY (and AWS_S3_FORCE_PATH_STYLE=true for MinIO-like servers); a storage
URL may carry ?endpoint=…&region=…&path_style=true of its own. The bucket must exist.

What it does:
  1. every original (blob) is streamed to the target and hashed on arrival; one whose bytes
     do not match its name is reported and left out, with the rows that name it
  2. every table (users, keys, images, paths, tags, presets, usage counters, settings and the
     signing secret, sessions, Imgwire records) is made equal to the source: missing rows
     added, changed rows updated, rows the source no longer has removed
Blobs go before rows, so a run cut off anywhere leaves no row without its blob. Run it again
to resume: what is there already is not copied again, and a run with nothing to do copies
nothing. Not moved: the variant cache (made again on demand), rate-limit windows, node leases
and bulk-download ZIPs (they expire within a day).

Stop the servers of the source first (or run it once while they run and once more after
stopping them: the second run copies only what changed). Progress goes to stderr.

Examples:
  imgd migrate --data-dir ./data --to-database postgres://imgd:secret@db:5432/imgd --to-storage s3://images/imgd
  IMGD_DATABASE_URL=postgres://… IMGD_STORAGE_URL=s3://images/imgd imgd migrate --to-database ./laptop/imgd.sqlite --to-storage ./laptop

Options:
${formatFlags(flags)}

Exit codes: 0 done, 1 failed or a damaged blob was found (the message says which), 2 usage error.`;

export async function migrateCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { flags: values, positional } = parseArgs(argv, flags);
  if (values.help) {
    console.log(migrateHelp);
    return 0;
  }
  if (positional.length) throw new UsageError(`migrate takes no arguments, got '${positional[0]}'`);
  const toDatabase = values["to-database"];
  const toStorage = values["to-storage"];
  if (typeof toDatabase !== "string" || typeof toStorage !== "string")
    throw new UsageError("migrate needs --to-database and --to-storage (see imgd migrate --help)");
  const config = resolveConfig({
    ...configFromEnv(env),
    ...(typeof values["data-dir"] === "string" ? { dataDir: values["data-dir"] } : {}),
  });
  const from: Instance = {
    database: config.databaseUrl
      ? databaseTarget(config.databaseUrl)
      : { kind: "sqlite", file: join(config.dataDir, "imgd.sqlite") },
    storageUrl: config.storageUrl,
    dataDir: config.dataDir,
  };
  const database = databaseTarget(toDatabase);
  if (database.kind === "sqlite") database.file = resolve(database.file);
  const s3 = toStorage.startsWith("s3://");
  const to: Instance = {
    database,
    storageUrl: s3 ? toStorage : undefined,
    dataDir: s3 ? (database.kind === "sqlite" ? dirname(database.file) : tmpdir()) : resolve(toStorage),
  };
  return exitOnOpsError(
    "migrate",
    async () => {
      if (database.kind === "sqlite") await mkdir(dirname(database.file), { recursive: true });
      if (!s3) await mkdir(to.dataDir, { recursive: true });
      const report = await migrate(from, to, { runtime: await detectRuntime(), env, quiet: !!values.quiet });
      if (report.blobsBad.length) {
        console.error(
          `imgd migrate: ${report.blobsBad.length} damaged blob(s) not copied (listed above): restore them from a backup, or run imgd doctor --repair on the source, then run migrate again`,
        );
        return 1;
      }
      return 0;
    },
    // A target that cannot be reached or written says so itself.
    (err) => /^(S3 |storage URL|database|connect)/.test(err.message),
  );
}
