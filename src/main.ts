#!/usr/bin/env bun
import pkg from "../package.json" with { type: "json" };
import { UsageError } from "./cli/args.ts";
import { backupCommand, backupHelp } from "./cli/backup.ts";
import { doctorCommand, doctorHelp } from "./cli/doctor.ts";
import { migrateCommand, migrateHelp } from "./cli/migrate.ts";
import { keysCommand, keysHelp } from "./cli/keys.ts";
import { restoreCommand, restoreHelp } from "./cli/restore.ts";
import { lsCommand, lsHelp, rmCommand, rmHelp, usageCommand, usageHelp } from "./cli/library.ts";
import { uploadCommand, uploadHelp } from "./cli/upload.ts";
import { importCommand, importHelp } from "./cli/import.ts";
import { serve, serveHelp } from "./cli/serve.ts";
import { usersCommand, usersHelp } from "./cli/users.ts";
import { ConfigError } from "./config.ts";

const help = `imgd ${pkg.version}: a self-hosted image host and image CDN origin in one executable

Usage: imgd <command> [options]

Commands:
  serve     Start the server (SQLite and blobs under ./data by default)
  keys      Create, list and revoke API keys without a running server
  users     Create and list users (tenants), set dashboard passwords; no server needed
  upload    Upload files and folders to a running server, with progress
  import    Bring a library over (a folder, an S3 prefix, a list of URLs), keeping paths; resumable
  ls        List images on a running server
  rm        Delete images (by id) or paths on a running server
  usage     Show this month's counters and the plan's limits
  backup    Back up a data directory (online: the server keeps running)
  restore   Restore a backup into an empty data directory
  doctor    Check a data directory (database against files, hashes, leftovers); --repair
  migrate   Copy the instance to another database and storage (SQLite + files <-> PostgreSQL + S3)
  help      Show help for a command: imgd help <command>

Options:
  --help       Show this help
  --version    Print the version

Every command has its own help: imgd <command> --help

Exit codes: 0 success, 1 failure, 2 usage error.

Quick start:
  imgd serve                                   # prints an admin API key and a dashboard setup link on first start
  IMGD_API_KEY=<key> imgd upload photo.jpg      # or: curl -H "Authorization: Bearer <key>" -F file=@photo.jpg http://localhost:8080/api/v1/images
`;

const commands: Record<
  string,
  { run: (argv: string[], env: Record<string, string | undefined>) => Promise<number>; help: string }
> = {
  serve: { run: serve, help: serveHelp },
  keys: { run: keysCommand, help: keysHelp },
  users: { run: usersCommand, help: usersHelp },
  upload: { run: uploadCommand, help: uploadHelp },
  import: { run: importCommand, help: importHelp },
  ls: { run: lsCommand, help: lsHelp },
  rm: { run: rmCommand, help: rmHelp },
  usage: { run: usageCommand, help: usageHelp },
  backup: { run: backupCommand, help: backupHelp },
  restore: { run: restoreCommand, help: restoreHelp },
  doctor: { run: doctorCommand, help: doctorHelp },
  migrate: { run: migrateCommand, help: migrateHelp },
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "--help" || cmd === "-h") {
    console.log(help);
    return cmd ? 0 : 2;
  }
  if (cmd === "--version" || cmd === "-v") {
    console.log(pkg.version);
    return 0;
  }
  if (cmd === "help") {
    const target = commands[rest[0] ?? ""];
    console.log(target ? target.help : help);
    return 0;
  }
  const command = commands[cmd];
  if (!command) throw new UsageError(`unknown command '${cmd}'`);
  return command.run(rest, process.env);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError) {
      console.error(`imgd: ${err.message}\nRun 'imgd --help' for usage.`);
      process.exit(2);
    }
    if (err instanceof ConfigError) {
      console.error(`imgd: ${err.message}`);
      process.exit(2);
    }
    console.error(`imgd: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
