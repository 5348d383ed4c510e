// Checks an embedded data directory: the database against the files, the files against their
// names, leftovers of interrupted work, SQLite's own integrity check and the migration level.
// Repairs only what loses nothing: a cache entry, a leftover, a row nothing uses, a blob back
// from the trash. Whatever would need a backup is listed, with what to do.
import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { appliedMigrations, knownMigrations } from "../db/connection.ts";
import type { Runtime } from "../runtime/index.ts";
import { entries, exists, HASH, layout, progressReporter, sha256File, shardedFiles } from "./layout.ts";

export interface Problem {
  check: string;
  /** What is wrong, with the file or row it is about. */
  message: string;
  /** What --repair does about it; null: it cannot, and `advice` says what to do. */
  repair: string | null;
  advice?: string;
  fixed?: boolean;
  apply?: () => Promise<void>;
}

export interface DoctorReport {
  dataDir: string;
  /** One line per check: its name and what it found (count or "ok"). */
  checks: { name: string; ok: boolean; summary: string }[];
  problems: Problem[];
  /** Files skipped because they are younger than the grace period (work of a running server). */
  inFlight: number;
  /** Closes the database the repairs use. */
  close: () => void;
}

export interface DoctorOptions {
  runtime: Runtime;
  /** Skip hashing every blob (sizes are still compared). */
  quick?: boolean;
  /** Files younger than this are taken for work in progress of a running server. */
  graceMs?: number;
  quiet?: boolean;
  now?: () => number;
}

interface BlobRow {
  hash: string;
  size: number;
}

export async function examine(dataDir: string, o: DoctorOptions): Promise<DoctorReport> {
  const L = layout(dataDir);
  const report: DoctorReport = { dataDir, checks: [], problems: [], inFlight: 0, close: () => {} };
  const check = (name: string, problems: Problem[], okSummary: string) => {
    report.problems.push(...problems);
    report.checks.push({
      name,
      ok: problems.length === 0,
      summary: problems.length === 0 ? okSummary : `${problems.length} problem${problems.length > 1 ? "s" : ""}`,
    });
  };
  if (!(await exists(L.database))) {
    check(
      "database",
      [
        {
          check: "database",
          message: `${L.database} is missing`,
          repair: null,
          advice: "is --data-dir the data directory of an imgd instance? If it is, restore a backup (imgd restore)",
        },
      ],
      "",
    );
    return report;
  }
  const now = o.now ?? Date.now;
  const grace = o.graceMs ?? 60_000;
  /** Younger than the grace period: a running server may be in the middle of it. */
  const recent = async (path: string) => {
    const s = await stat(path).catch(() => null);
    if (!s) return true;
    const young = now() - Math.max(s.mtimeMs, s.ctimeMs) < grace;
    if (young) report.inFlight++;
    return young;
  };

  const db = o.runtime.openSqlite(L.database);
  const all = <T>(sql: string, params: unknown[] = []) => db.prepare(sql).all(params) as T[];
  const run = (sql: string, params: unknown[] = []) => db.prepare(sql).run(params);
  try {
    db.prepare("PRAGMA busy_timeout = 10000").all([]);

    // SQLite's own view of the file.
    const integrity = all<Record<string, string>>("PRAGMA integrity_check").map((r) => Object.values(r)[0]);
    check(
      "database integrity",
      integrity.length === 1 && integrity[0] === "ok"
        ? []
        : integrity.map((line) => ({
            check: "database integrity",
            message: line,
            repair: null,
            advice:
              "stop the server and restore the latest backup (imgd restore); or copy out what is readable with: sqlite3 imgd.sqlite .recover",
          })),
      "ok (PRAGMA integrity_check)",
    );
    // images → blobs has its own check below, which can also repair it.
    const fk = all<{ table: string; rowid: number; parent: string }>("PRAGMA foreign_key_check").filter(
      (r) => !(r.table === "images" && r.parent === "blobs"),
    );
    check(
      "foreign keys",
      fk.map((r) => ({
        check: "foreign keys",
        message: `${r.table} row ${r.rowid} points at a missing ${r.parent} row`,
        repair: null,
        advice: "restore the latest backup, or remove the row by hand",
      })),
      "ok",
    );

    // Migration level: newer than this build is a problem; older is applied at the next start.
    const applied = appliedMigrations(db);
    const unknown = applied.filter((m) => !knownMigrations.includes(m));
    const pending = knownMigrations.filter((m) => !applied.includes(m));
    check(
      "migrations",
      unknown.map((m) => ({
        check: "migrations",
        message: `migration ${m} was applied by a newer imgd (this one knows up to ${knownMigrations.at(-1)})`,
        repair: null,
        advice: "run the newer imgd on this data directory",
      })),
      `${applied.at(-1) ?? "none"} (${applied.length} of ${knownMigrations.length}${pending.length ? `; ${pending.join(", ")} will be applied at the next start` : ", up to date"})`,
    );

    // Blob rows against blob files.
    const blobRows = all<BlobRow>("select hash, size from blobs order by hash").map((r) => ({
      hash: r.hash,
      size: Number(r.size),
    }));
    const rowSet = new Set(blobRows.map((r) => r.hash));
    const usersOf = (hash: string) =>
      all<{ id: string }>("select id from images where blob_hash = ? order by id", [hash]).map((r) => r.id);
    const missing: Problem[] = [];
    const damaged: Problem[] = [];
    const progress = progressReporter(o.quick ? "checking blob sizes" : "hashing blobs", !!o.quiet);
    for (let i = 0; i < blobRows.length; i++) {
      const { hash, size } = blobRows[i];
      progress.step(i + 1, blobRows.length);
      const path = L.blob(hash);
      const st = await stat(path).catch(() => null);
      if (!st) {
        const inTrash = join(L.trash, hash);
        if (await exists(inTrash)) {
          if (await recent(inTrash)) continue; // a delete in progress
          missing.push({
            check: "blob rows without files",
            message: `blob ${hash} is in the trash but its row is still there`,
            repair: "move it back from the trash",
            apply: async () => {
              await mkdir(dirname(path), { recursive: true });
              await rename(inTrash, path);
            },
          });
          continue;
        }
        const images = usersOf(hash);
        if (images.length === 0) {
          missing.push({
            check: "blob rows without files",
            message: `blob ${hash} has a row but no file, and no image uses it`,
            repair: "delete the row and its variants",
            apply: async () => {
              await dropVariantsOf(hash);
              run("delete from blobs where hash = ?", [hash]);
            },
          });
        } else {
          missing.push({
            check: "blob rows without files",
            message: `blob ${hash} is missing: image${images.length > 1 ? "s" : ""} ${images.join(", ")} lost ${images.length > 1 ? "their" : "its"} original`,
            repair: null,
            advice: `restore the file from a backup to ${path}, or delete the image${images.length > 1 ? "s" : ""} (imgd rm ${images.join(" ")})`,
          });
        }
        continue;
      }
      const wrong =
        st.size !== size
          ? `is ${st.size} bytes, its row says ${size}`
          : !o.quick && (await sha256File(path)) !== hash
            ? "does not hash to its name"
            : null;
      if (wrong) {
        const images = usersOf(hash);
        damaged.push({
          check: "blob contents",
          message: `blob ${hash} ${wrong} (used by ${images.length ? images.join(", ") : "no image"})`,
          repair: null,
          advice: `restore the file from a backup to ${path}${images.length ? `, or delete the image${images.length > 1 ? "s" : ""}` : ""}`,
        });
      }
    }
    check("blob rows without files", missing, `ok (${blobRows.length} blobs)`);
    check("blob contents", damaged, o.quick ? "sizes ok (not hashed: --quick)" : "ok (every blob hashes to its name)");

    // Images whose blob row is gone (possible only with foreign keys off): the row can be made
    // again from the image's own columns when the file is there and whole.
    const imageOrphans = all<{
      id: string;
      blob_hash: string;
      size: number;
      format: string;
      mime_type: string;
      width: number;
      height: number;
      created_at: number;
    }>(
      "select id, blob_hash, size, format, mime_type, width, height, created_at from images where blob_hash not in (select hash from blobs)",
    );
    const rebuilt = new Set<string>();
    const imageProblems: Problem[] = [];
    for (const img of imageOrphans) {
      const path = L.blob(img.blob_hash);
      const whole = (await exists(path)) && (await sha256File(path)) === img.blob_hash;
      if (whole && !rebuilt.has(img.blob_hash)) {
        rebuilt.add(img.blob_hash);
        imageProblems.push({
          check: "images without blob rows",
          message: `image ${img.id} names blob ${img.blob_hash}, which has a file but no row`,
          repair: "recreate the blob row from the image",
          apply: async () => {
            run(
              "insert or ignore into blobs (hash, size, format, mime, width, height, created_at) values (?, ?, ?, ?, ?, ?, ?)",
              [img.blob_hash, img.size, img.format, img.mime_type, img.width, img.height, img.created_at],
            );
          },
        });
      } else if (!whole) {
        imageProblems.push({
          check: "images without blob rows",
          message: `image ${img.id} names blob ${img.blob_hash}, which has neither row nor whole file`,
          repair: null,
          advice: `restore the file from a backup to ${path}, or delete the image (imgd rm ${img.id})`,
        });
      }
    }
    check("images without blob rows", imageProblems, "ok");

    // Blob files against blob rows.
    const orphans: Problem[] = [];
    const lostFound = join(dataDir, "lost+found");
    for await (const f of shardedFiles(L.blobs)) {
      if (rowSet.has(f.name) || rebuilt.has(f.name)) continue;
      if (await recent(f.path)) continue; // an upload between its file and its row
      orphans.push({
        check: "blob files without rows",
        message: `${f.path} is not named by the database`,
        repair: `move it to ${lostFound}`,
        apply: async () => {
          await mkdir(lostFound, { recursive: true });
          await rename(f.path, join(lostFound, f.name));
        },
      });
    }
    check("blob files without rows", orphans, "ok");

    // The variant cache: every row has its whole file and its blob; every file has its row.
    const variantRows = all<{ key: string; size: number; blob_hash: string; has_blob: number }>(
      "select v.key, v.size, v.blob_hash, (select count(*) from blobs b where b.hash = v.blob_hash) as has_blob from variants v",
    );
    const variantProblems: Problem[] = [];
    const variantKeys = new Set<string>();
    for (const v of variantRows) {
      variantKeys.add(v.key);
      const path = L.variant(v.key);
      const size = await stat(path).then(
        (s) => s.size,
        () => -1,
      );
      const why = !v.has_blob
        ? `belongs to blob ${v.blob_hash}, which is gone`
        : size < 0
          ? "has a row but no file"
          : size !== Number(v.size)
            ? `is ${size} bytes, its row says ${v.size}`
            : null;
      if (why)
        variantProblems.push({
          check: "variant cache",
          message: `variant ${v.key} ${why}`,
          repair: "drop it from the cache (it is made again on request)",
          apply: async () => {
            run("delete from variants where key = ?", [v.key]);
            await rm(path, { force: true });
          },
        });
    }
    for await (const f of shardedFiles(L.variants)) {
      if (variantKeys.has(f.name) || (await recent(f.path))) continue;
      variantProblems.push({
        check: "variant cache",
        message: `${f.path} is not in the variant index`,
        repair: "delete the file (the cache makes it again on request)",
        apply: () => rm(f.path, { force: true }),
      });
    }
    check("variant cache", variantProblems, `ok (${variantRows.length} variants)`);

    // Leftovers of interrupted work.
    const leftovers: Problem[] = [];
    for (const name of await entries(L.tmp)) {
      const path = join(L.tmp, name);
      if (await recent(path)) continue;
      leftovers.push({
        check: "temp and trash leftovers",
        message: `${path}: an interrupted upload or transform`,
        repair: "delete it",
        apply: () => rm(path, { recursive: true, force: true }),
      });
    }
    for (const name of await entries(L.trash)) {
      const path = join(L.trash, name);
      if (HASH.test(name) && rowSet.has(name)) continue; // handled above: it goes back
      if (await recent(path)) continue;
      leftovers.push({
        check: "temp and trash leftovers",
        message: `${path}: a deleted blob not yet purged`,
        repair: "delete it (its image was deleted)",
        apply: () => rm(path, { recursive: true, force: true }),
      });
    }
    check("temp and trash leftovers", leftovers, "ok");

    // The signing secret.
    const secretText = await readFile(L.secret, "utf8").catch(() => null);
    check(
      "secret.key",
      secretText !== null && /^[0-9a-f]{64}$/.test(secretText.trim())
        ? []
        : [
            {
              check: "secret.key",
              message: secretText === null ? `${L.secret} is missing` : `${L.secret} is damaged`,
              repair: null,
              advice:
                "restore it from a backup; or delete it and start the server, which makes a new one (signed URLs made before stop working)",
            },
          ],
      "ok",
    );
  } catch (err) {
    // A database too damaged to query is itself the finding, not a crash of the doctor.
    const message = (err as Error).message ?? String(err);
    if (!/sqlite|database|malformed|corrupt|disk image/i.test(`${(err as { code?: string }).code ?? ""} ${message}`)) {
      db.close();
      throw err;
    }
    report.problems.push({
      check: "database integrity",
      message: `reading the database failed: ${message}`,
      repair: null,
      advice:
        "stop the server and restore the latest backup (imgd restore); or copy out what is readable with: sqlite3 imgd.sqlite .recover",
    });
    const entry = report.checks.find((c) => c.name === "database integrity");
    if (entry) Object.assign(entry, { ok: false, summary: "the database cannot be read" });
    else report.checks.push({ name: "database integrity", ok: false, summary: "the database cannot be read" });
  }

  async function dropVariantsOf(hash: string) {
    for (const v of all<{ key: string }>("select key from variants where blob_hash = ?", [hash])) {
      run("delete from variants where key = ?", [v.key]);
      await rm(L.variant(v.key), { force: true });
    }
  }

  report.close = () => db.close();
  return report;
}

/**
 * `examine`, but beside a running server: what it finds is looked at again a moment later and
 * only what is still there is reported, so a delete or a cache write caught between its two
 * steps is not taken for damage.
 */
export async function examineSettled(dataDir: string, o: DoctorOptions & { settleMs?: number }): Promise<DoctorReport> {
  const first = await examine(dataDir, o);
  if (first.problems.length === 0 || (o.graceMs ?? 60_000) === 0) return first;
  first.close();
  await new Promise((r) => setTimeout(r, o.settleMs ?? 1500));
  const second = await examine(dataDir, { ...o, quiet: true });
  const before = new Set(first.problems.map((p) => p.message));
  const passing = second.problems.filter((p) => !before.has(p.message));
  second.problems = second.problems.filter((p) => before.has(p.message));
  second.inFlight += passing.length;
  second.checks = second.checks.map((c) => {
    const n = second.problems.filter((p) => p.check === c.name).length;
    if (n > 0) return { ...c, ok: false, summary: `${n} problem${n > 1 ? "s" : ""}` };
    return c.ok ? c : { ...c, ok: true, summary: "ok (what was found was work in progress)" };
  });
  return second;
}

/** Applies every repair that can be made; returns how many were. */
export async function repair(report: DoctorReport): Promise<number> {
  let n = 0;
  for (const p of report.problems) {
    if (!p.apply) continue;
    await p.apply();
    p.fixed = true;
    n++;
  }
  return n;
}
