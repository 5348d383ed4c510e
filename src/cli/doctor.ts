import { examineSettled, repair } from "../ops/doctor.ts";
import { detectRuntime } from "../runtime/index.ts";
import { type FlagSpec, formatFlags, parseArgs, UsageError } from "./args.ts";
import { dataDirOf, refuseUnlessInDataDir } from "./data-dir.ts";

const flags: Record<string, FlagSpec> = {
  "data-dir": { arg: "dir", help: "Data directory to check [IMGD_DATA_DIR, default ./data]" },
  repair: { boolean: true, help: "Fix what can be fixed without losing data; list the rest" },
  quick: { boolean: true, help: "Compare blob sizes only; skip hashing every blob" },
  grace: {
    arg: "seconds",
    help: "Leave files younger than this alone: a running server may be writing them (default 60)",
  },
  quiet: { boolean: true, help: "Print problems only (no progress, no passing checks)" },
  help: { boolean: true, help: "Show this help" },
};

export const doctorHelp = `Usage: imgd doctor [--data-dir ./data] [--repair] [--quick] [--grace 60]

Checks an imgd data directory and reports what is wrong, with what to do about it:

  database integrity        SQLite's PRAGMA integrity_check
  foreign keys              rows pointing at missing rows (PRAGMA foreign_key_check)
  migrations                the database's migration level against this imgd's (a newer one is
                            a problem; an older one is upgraded at the next start)
  blob rows without files   originals the database names that are not on disk (or sit in the trash)
  blob contents             originals whose SHA-256 does not match their name, or size their row
  images without blob rows  images naming an original the database does not list
  blob files without rows   files under blobs/ that nothing names
  variant cache             index rows without files, of deleted originals, files without rows
  temp and trash leftovers  interrupted uploads and transforms, deleted blobs not yet purged
  secret.key                the signing secret is there and well-formed

With --repair it fixes what loses nothing: moves a blob back from the trash, recreates a blob
row from its image, deletes rows that nothing uses, drops broken cache entries (they are made
again on request), deletes temp and trash leftovers, and moves unnamed blob files to
<data-dir>/lost+found/ (look at them, then delete them). What would need a backup (a missing or
damaged original, a damaged database) is listed with what to do.

It may run while the server runs: files younger than --grace seconds are taken for the
server's work in progress and left alone, and whatever it finds is looked at again a moment
later, so only what stays is reported. Run --repair with the server stopped when you can.

Options:
${formatFlags(flags)}

For the embedded SQLite data directory only: with IMGD_DATABASE_URL (PostgreSQL) or
IMGD_STORAGE_URL (S3) it stops and says what to use instead.

Exit codes: 0 healthy (after --repair: everything found was fixed), 1 problems remain,
2 usage error.`;

export async function doctorCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { flags: values, positional: positionals } = parseArgs(argv, flags);
  if (values.help) {
    console.log(doctorHelp);
    return 0;
  }
  const refused = refuseUnlessInDataDir("doctor", env);
  if (refused !== null) return refused;
  if (positionals.length)
    throw new UsageError(`doctor takes no arguments (got '${positionals[0]}'); the data directory is --data-dir`);
  let graceMs = 60_000;
  if (values.grace !== undefined) {
    const s = Number(values.grace);
    if (!Number.isFinite(s) || s < 0) throw new UsageError("--grace takes a number of seconds, 0 or more");
    graceMs = s * 1000;
  }
  const dataDir = dataDirOf(values["data-dir"], env);
  const quiet = !!values.quiet;
  const report = await examineSettled(dataDir, {
    runtime: await detectRuntime(),
    quick: !!values.quick,
    graceMs,
    quiet,
  });
  try {
    if (!quiet) console.log(`imgd doctor: ${dataDir}`);
    for (const c of report.checks)
      if (!quiet || !c.ok) console.log(`  ${c.ok ? "ok  " : "FAIL"}  ${c.name}: ${c.summary}`);
    if (report.inFlight && !quiet)
      console.log(`  (${report.inFlight} file(s) younger than ${graceMs / 1000} s left alone: work in progress)`);
    if (values.repair) await repair(report);
    for (const p of report.problems) {
      const what = p.fixed
        ? `fixed: ${p.repair}`
        : p.repair
          ? `fixable with --repair: ${p.repair}`
          : `not fixable here: ${p.advice}`;
      console.log(`  - [${p.check}] ${p.message}\n      ${what}`);
    }
    const left = report.problems.filter((p) => !p.fixed);
    const fixed = report.problems.length - left.length;
    if (report.problems.length === 0) console.log("healthy: no problems found");
    else if (left.length === 0) console.log(`repaired: all ${fixed} problem(s) fixed`);
    else {
      const fixable = left.filter((p) => p.repair).length;
      console.log(
        `${left.length} problem(s)${fixed ? ` left (${fixed} fixed)` : ""}${fixable ? `; ${fixable} fixable: run imgd doctor --repair` : ""}${left.length - fixable ? `; ${left.length - fixable} need a backup or your decision (see above)` : ""}`,
      );
    }
    return left.length === 0 ? 0 : 1;
  } finally {
    report.close();
  }
}
