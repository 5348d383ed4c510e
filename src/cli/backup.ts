import pkg from "../../package.json" with { type: "json" };
import { backup } from "../ops/backup.ts";
import { detectRuntime } from "../runtime/index.ts";
import { type FlagSpec, formatFlags, parseArgs, UsageError } from "./args.ts";
import { dataDirOf, refuseUnlessInDataDir } from "./data-dir.ts";
import { exitOnOpsError } from "./ops-errors.ts";

const flags: Record<string, FlagSpec> = {
  "data-dir": { arg: "dir", help: "Data directory to back up [IMGD_DATA_DIR, default ./data]" },
  quiet: { boolean: true, help: "Print nothing but errors" },
  help: { boolean: true, help: "Show this help" },
};

export const backupHelp = `Usage: imgd backup <dir> [--data-dir ./data] [--quiet]

Makes a consistent backup of an imgd data directory in <dir> (missing or empty), while the
server keeps running: no need to stop it.

What <dir> holds afterwards:
  imgd.sqlite     an online snapshot of the database (SQLite VACUUM INTO: one read transaction,
                  so images, keys, presets and counters are all from the same instant)
  blobs/          every original the snapshot names, hard-linked where <dir> is on the same
                  filesystem (no extra space; originals never change), copied otherwise
  secret.key      the signing secret (signed URLs stay valid after a restore)
  manifest.json   written last: SHA-256 of every file, counts, the imgd version and migration

Every blob is hashed while backing up, so damage on disk is found now. The variant cache is
not backed up; it is rebuilt on demand. Progress goes to stderr.

Keep backups on another disk: a hard link is a second name of the same data, not a second copy.
Copy <dir> elsewhere (rsync -a, tar) once it is made.

Restore with: imgd restore <dir> --data-dir <new empty dir>

Options:
${formatFlags(flags)}

For the embedded SQLite data directory only: with IMGD_DATABASE_URL (PostgreSQL) or
IMGD_STORAGE_URL (S3) it stops and says what to use instead.

Exit codes: 0 done, 1 failed (the message says why; an unfinished backup has no manifest.json),
2 usage error.`;

export async function backupCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { flags: values, positional: positionals } = parseArgs(argv, flags);
  if (values.help) {
    console.log(backupHelp);
    return 0;
  }
  const refused = refuseUnlessInDataDir("backup", env);
  if (refused !== null) return refused;
  if (positionals.length !== 1) throw new UsageError("backup takes one argument: the directory to write the backup to");
  return exitOnOpsError("backup", async () => {
    await backup(dataDirOf(values["data-dir"], env), positionals[0], {
      runtime: await detectRuntime(),
      version: pkg.version,
      quiet: !!values.quiet,
    });
    return 0;
  });
}
