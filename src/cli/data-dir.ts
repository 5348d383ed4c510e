import { configFromEnv, resolveConfig } from "../config.ts";

/** The data directory: --data-dir, else IMGD_DATA_DIR, else ./data (as serve resolves it). */
export function dataDirOf(flag: string | boolean | undefined, env: Record<string, string | undefined>): string {
  return resolveConfig({ ...configFromEnv(env), ...(typeof flag === "string" ? { dataDir: flag } : {}) }).dataDir;
}

const ON_POSTGRES: Record<string, string> = {
  backup:
    "back up the database with pg_dump and the blobs with your storage's own tools, or copy the whole instance to SQLite and files with 'imgd migrate'",
  restore: "restore the database with pg_restore (or psql) and the blobs with your storage's own tools",
  doctor: "GET /ready on each node tells whether it reaches the database and the storage",
};

const ON_S3: Record<string, string> = {
  backup:
    "copy the whole instance to SQLite and files with 'imgd migrate --to-database DIR/imgd.sqlite --to-storage DIR' (it hashes every blob on the way), or keep versions in the bucket",
  restore: "restore into a data directory without IMGD_STORAGE_URL, then copy it into the bucket with 'imgd migrate'",
  doctor:
    "'imgd migrate' into an empty target hashes every blob on the way, and GET /ready tells whether the bucket answers",
};

/**
 * backup, restore and doctor work on a data directory that holds the whole library: the SQLite
 * database and the blobs. With IMGD_DATABASE_URL (PostgreSQL) or IMGD_STORAGE_URL (S3) set they
 * would look at a directory that is not where the library lives, so they stop and say what to
 * use instead. Returns the exit code, or null to go on.
 */
export function refuseUnlessInDataDir(
  command: keyof typeof ON_POSTGRES,
  env: Record<string, string | undefined>,
): number | null {
  if (env.IMGD_STORAGE_URL && !env.IMGD_DATABASE_URL) {
    // SQLite with S3: the directory has the database but not the blobs (doctor would take every
    // blob for missing).
    console.error(
      `imgd ${command}: works on a data directory that holds its blobs, and IMGD_STORAGE_URL says this instance keeps them in S3: ${ON_S3[command]}`,
    );
    return 1;
  }
  if (!env.IMGD_DATABASE_URL) return null;
  console.error(
    `imgd ${command}: works on the embedded SQLite data directory, and IMGD_DATABASE_URL says this instance keeps its library in PostgreSQL: ${ON_POSTGRES[command]}`,
  );
  return 1;
}
