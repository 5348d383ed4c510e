import pkg from "../../package.json" with { type: "json" };
import { restore } from "../ops/backup.ts";
import { detectRuntime } from "../runtime/index.ts";
import { type FlagSpec, formatFlags, parseArgs, UsageError } from "./args.ts";
import { dataDirOf, refuseUnlessInDataDir } from "./data-dir.ts";
import { exitOnOpsError } from "./ops-errors.ts";

const flags: Record<string, FlagSpec> = {
  "data-dir": {
    arg: "dir",
    help: "Data directory to restore into; must be missing or empty [IMGD_DATA_DIR, default ./data]",
  },
  quiet: { boolean: true, help: "Print nothing but errors" },
  help: { boolean: true, help: "Show this help" },
};

export const restoreHelp = `Usage: imgd restore <backup dir> [--data-dir ./data] [--quiet]

Restores a backup made by 'imgd backup' into a data directory that is missing or empty, then
'imgd serve --data-dir <that dir>' serves the same library: images and their paths, users, API
keys, presets, settings, this month's counters, and signed URLs (the secret is restored too).

Before writing anything, every file is checked against the manifest's SHA-256; a damaged or
unfinished backup is refused and the target stays empty. A non-empty target is refused: restore
into a new directory, or stop the server and move the old contents away first.

Blobs are hard-linked from the backup where both are on one filesystem, copied otherwise. A
backup from an older imgd is upgraded when the server starts (migrations run at start); one
from a newer imgd is refused.

Options:
${formatFlags(flags)}

For the embedded SQLite data directory only: with IMGD_DATABASE_URL (PostgreSQL) or
IMGD_STORAGE_URL (S3) it stops and says what to use instead.

Exit codes: 0 restored, 1 refused or failed (the message says why), 2 usage error.`;

export async function restoreCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { flags: values, positional: positionals } = parseArgs(argv, flags);
  if (values.help) {
    console.log(restoreHelp);
    return 0;
  }
  const refused = refuseUnlessInDataDir("restore", env);
  if (refused !== null) return refused;
  if (positionals.length !== 1) throw new UsageError("restore takes one argument: the backup directory");
  return exitOnOpsError("restore", async () => {
    await restore(positionals[0], dataDirOf(values["data-dir"], env), {
      runtime: await detectRuntime(),
      version: pkg.version,
      quiet: !!values.quiet,
    });
    return 0;
  });
}
