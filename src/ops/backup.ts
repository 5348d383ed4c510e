// Backup and restore of an embedded data directory. A backup is a directory:
//   imgd.sqlite     a consistent copy of the database (SQLite's VACUUM INTO: an online snapshot
//                   taken inside one read transaction, so a running server keeps serving)
//   secret.key      the signing secret, so signed URLs stay valid
//   blobs/ab/cd/…   every blob the snapshot names: hard links where the filesystem allows, copies
//                   otherwise (blobs never change once written, so a link is a true copy)
//   manifest.json   written last: hashes of everything above; its presence marks a finished backup
// The variant cache is left out: it is rebuilt on demand.
import { chmod, copyFile, link, mkdir, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { appliedMigrations, knownMigrations, refuseNewerDatabase } from "../db/connection.ts";
import type { Runtime } from "../runtime/index.ts";
import { entries, exists, HASH, layout, progressReporter, sha256File, shardedFiles } from "./layout.ts";

export const MANIFEST = "manifest.json";

export interface Manifest {
  format: "imgd-backup";
  version: 1;
  created_at: string;
  imgd_version: string;
  /** The last migration the database had applied. */
  migration: string | null;
  database: { file: string; sha256: string; bytes: number };
  secret: { file: string; sha256: string } | null;
  counts: { users: number; images: number; api_keys: number; blobs: number; blob_bytes: number };
  blobs: { hash: string; size: number }[];
}

export interface OpsOptions {
  runtime: Runtime;
  version: string;
  quiet?: boolean;
  log?: (line: string) => void;
}

export class OpsError extends Error {
  override name = "OpsError";
}

/** Hard link, or copy where links are not possible (another filesystem, no permission). */
async function linkOrCopy(from: string, to: string): Promise<"linked" | "copied"> {
  await mkdir(dirname(to), { recursive: true });
  try {
    await link(from, to);
    return "linked";
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return "linked";
    if (code === "ENOENT") throw err;
    await copyFile(from, to);
    return "copied";
  }
}

function rows<T>(raw: ReturnType<Runtime["openSqlite"]>, sql: string): T[] {
  return raw.prepare(sql).all([]) as T[];
}

/** Makes a backup of `dataDir` in `dest` (missing or empty) while a server may be running on it. */
export async function backup(dataDir: string, dest: string, o: OpsOptions): Promise<Manifest> {
  const src = layout(dataDir);
  const log = o.log ?? ((l: string) => console.error(l));
  if (!(await exists(src.database)))
    throw new OpsError(`${dataDir} has no imgd.sqlite: is --data-dir the data directory of an imgd instance?`);
  if ((await entries(dest)).length > 0)
    throw new OpsError(`${dest} is not empty: back up into a new or empty directory`);
  await mkdir(dest, { recursive: true });
  const out = layout(dest);

  // 1. Link every blob there is now. Blobs are immutable, so a link made now stays a whole copy
  //    even if the server deletes the original a moment later.
  const have = new Set<string>();
  let linked = 0;
  let copied = 0;
  for await (const f of shardedFiles(src.blobs)) {
    if (!HASH.test(f.name)) continue;
    try {
      (await linkOrCopy(f.path, out.blob(f.name))) === "linked" ? linked++ : copied++;
      have.add(f.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err; // deleted meanwhile
    }
  }

  // 2. Snapshot the database; 3. link the blobs it names that appeared after step 1. A blob both
  //    created and deleted between the two (a race of milliseconds) makes us take a new snapshot.
  const snapshot = join(dest, "imgd.sqlite");
  let hashes: { hash: string; size: number }[] = [];
  for (let attempt = 1; ; attempt++) {
    await rm(snapshot, { force: true });
    const live = o.runtime.openSqlite(src.database);
    try {
      live.prepare("PRAGMA busy_timeout = 10000").all([]);
      refuseNewerDatabase(live);
      live.prepare("VACUUM INTO ?").run([snapshot]);
    } finally {
      live.close();
    }
    const snap = o.runtime.openSqlite(snapshot);
    try {
      hashes = rows<{ hash: string; size: number }>(snap, "select hash, size from blobs order by hash").map((r) => ({
        hash: r.hash,
        size: Number(r.size),
      }));
    } finally {
      snap.close();
    }
    const missing: string[] = [];
    for (const { hash } of hashes) {
      if (have.has(hash)) continue;
      try {
        (await linkOrCopy(src.blob(hash), out.blob(hash))) === "linked" ? linked++ : copied++;
        have.add(hash);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        missing.push(hash);
      }
    }
    if (missing.length === 0) break;
    if (attempt === 3)
      throw new OpsError(
        `blob ${missing[0]} is named by the database but missing from ${src.blobs} (and ${missing.length - 1} more): run 'imgd doctor --data-dir ${dataDir}'`,
      );
  }

  // Blobs linked in step 1 whose images were deleted before the snapshot do not belong.
  const named = new Set(hashes.map((h) => h.hash));
  for (const hash of have) if (!named.has(hash)) await unlink(out.blob(hash)).catch(() => {});

  // The variant cache is not backed up: its index must not name files the backup lacks.
  const snap = o.runtime.openSqlite(snapshot);
  let migration: string | null = null;
  let counts: Manifest["counts"];
  try {
    snap.prepare("DELETE FROM variants").run([]);
    migration = appliedMigrations(snap).at(-1) ?? null;
    const count = (table: string) => Number(rows<{ n: number }>(snap, `select count(*) as n from ${table}`)[0].n);
    counts = {
      users: count("users"),
      images: count("images"),
      api_keys: count("api_keys"),
      blobs: hashes.length,
      blob_bytes: hashes.reduce((a, h) => a + h.size, 0),
    };
    snap.prepare("VACUUM").run([]);
  } finally {
    snap.close();
  }

  // Hash what was linked: a blob damaged on disk is found now, not on the day of the restore.
  const progress = progressReporter("verifying blobs", !!o.quiet);
  const bad: string[] = [];
  for (let i = 0; i < hashes.length; i++) {
    const { hash, size } = hashes[i];
    const path = out.blob(hash);
    if ((await stat(path)).size !== size || (await sha256File(path)) !== hash) bad.push(hash);
    progress.step(i + 1, hashes.length);
  }
  if (bad.length)
    throw new OpsError(
      `blob ${bad[0]} (and ${bad.length - 1} more) does not match its hash: the data directory is damaged; run 'imgd doctor --data-dir ${dataDir}' (the unfinished backup in ${dest} has no manifest)`,
    );

  let secret: Manifest["secret"] = null;
  if (await exists(src.secret)) {
    await copyFile(src.secret, out.secret);
    secret = { file: "secret.key", sha256: await sha256File(out.secret) };
  }
  const manifest: Manifest = {
    format: "imgd-backup",
    version: 1,
    created_at: new Date().toISOString(),
    imgd_version: o.version,
    migration,
    database: { file: "imgd.sqlite", sha256: await sha256File(snapshot), bytes: (await stat(snapshot)).size },
    secret,
    counts: counts!,
    blobs: hashes,
  };
  await writeFile(join(dest, `${MANIFEST}.part`), JSON.stringify(manifest, null, 1));
  await rename(join(dest, `${MANIFEST}.part`), join(dest, MANIFEST));
  if (!o.quiet)
    log(
      `backup: ${counts!.images} images, ${counts!.users} users, ${counts!.api_keys} keys, ${hashes.length} blobs (${linked} linked, ${copied} copied) in ${dest}`,
    );
  return manifest;
}

/** Restores a backup into `dataDir`, which must be missing or empty; checks every hash first. */
export async function restore(from: string, dataDir: string, o: OpsOptions): Promise<Manifest> {
  const log = o.log ?? ((l: string) => console.error(l));
  const manifestText = await readFile(join(from, MANIFEST), "utf8").catch(() => null);
  if (manifestText === null)
    throw new OpsError(`${from} has no ${MANIFEST}: it is not an imgd backup, or the backup did not finish`);
  const manifest = JSON.parse(manifestText) as Manifest;
  if (manifest.format !== "imgd-backup" || manifest.version !== 1)
    throw new OpsError(
      `${join(from, MANIFEST)} is not a backup this imgd can read (format ${manifest.format} ${manifest.version})`,
    );
  if (manifest.migration && !knownMigrations.includes(manifest.migration)) {
    throw new OpsError(
      `the backup was made by a newer imgd (${manifest.imgd_version}, database migration ${manifest.migration}): restore it with that version or newer`,
    );
  }
  const existing = await entries(dataDir);
  if (existing.length > 0) {
    throw new OpsError(
      `${dataDir} is not empty (${existing.slice(0, 3).join(", ")}${existing.length > 3 ? ", …" : ""}): restore into a new or empty directory (--data-dir), or stop the server and move this directory's contents away first`,
    );
  }
  const src = layout(from);
  const out = layout(dataDir);

  // Check everything before writing anything, so a damaged backup leaves the target empty.
  if ((await sha256File(src.database)) !== manifest.database.sha256)
    throw new OpsError(`${src.database} does not match the manifest: the backup is damaged`);
  if (manifest.secret && (await sha256File(src.secret)) !== manifest.secret.sha256)
    throw new OpsError(`${src.secret} does not match the manifest: the backup is damaged`);
  const progress = progressReporter("checking blobs", !!o.quiet);
  for (let i = 0; i < manifest.blobs.length; i++) {
    const { hash } = manifest.blobs[i];
    if (!HASH.test(hash)) throw new OpsError(`the manifest names '${hash}', which is not a blob hash`);
    const actual = await sha256File(src.blob(hash)).catch(() => null);
    if (actual !== hash)
      throw new OpsError(
        `blob ${hash} is ${actual === null ? "missing from" : "damaged in"} the backup: nothing was restored`,
      );
    progress.step(i + 1, manifest.blobs.length);
  }

  await mkdir(dataDir, { recursive: true });
  for (const d of [out.blobs, out.variants, out.tmp, out.trash]) await mkdir(d, { recursive: true });
  let linked = 0;
  for (const { hash } of manifest.blobs) if ((await linkOrCopy(src.blob(hash), out.blob(hash))) === "linked") linked++;
  if (manifest.secret) {
    await copyFile(src.secret, out.secret);
    await chmod(out.secret, 0o600).catch(() => {});
  }
  // The database last: a data dir without it is visibly unfinished, never half a library.
  await copyFile(src.database, `${out.database}.part`);
  await rename(`${out.database}.part`, out.database);
  if (!o.quiet)
    log(
      `restore: ${manifest.counts.images} images, ${manifest.counts.users} users, ${manifest.counts.api_keys} keys, ${manifest.blobs.length} blobs (${linked} linked) into ${dataDir}; start it with: imgd serve --data-dir ${dataDir}`,
    );
  return manifest;
}
