// Checks an embedded data directory: the database against the files, the files against their
// names, leftovers of interrupted work, SQLite's own integrity check and the migration level.
// Repairs only what loses nothing: a cache entry, a leftover, a row nothing uses, a blob back
// from the trash. Whatever would need a backup is listed, with what to do.
import { readFile, stat } from "node:fs/promises";
import { appliedMigrations, knownMigrations } from "../db/connection.ts";
import type { Runtime } from "../runtime/index.ts";
import { checkFiles, type Examination, type Problem } from "./doctor-files.ts";
import { exists, layout } from "./layout.ts";

export type { Problem } from "./doctor-files.ts";

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
  const run = (sql: string, params: unknown[] = []) => void db.prepare(sql).run(params);
  try {
    db.prepare("PRAGMA busy_timeout = 10000").all([]);
    const x: Examination = { dataDir, L, quick: !!o.quick, quiet: !!o.quiet, all, run, recent, check };

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

    await checkFiles(x);

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
