// Flag parsing for the operator commands (backup, restore, doctor) on node:util's parseArgs,
// so these commands stand on their own whatever parser the other commands use.
import { parseArgs } from "node:util";
import { configFromEnv, resolveConfig } from "../config.ts";
import { UsageError } from "./args.ts";

export interface OpsFlag {
  type: "string" | "boolean";
  arg?: string;
  help: string;
}

export function parseOpsArgs(argv: string[], flags: Record<string, OpsFlag>) {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.entries(flags).map(([k, f]) => [k, { type: f.type }])),
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (err) {
    // node's messages name the flag ("Unknown option '--x'"); keep them, as a usage error.
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
}

export function flagsHelp(flags: Record<string, OpsFlag>): string {
  const rows = Object.entries(flags).map(([name, f]) => [
    `--${name}${f.type === "string" ? ` <${f.arg ?? "value"}>` : ""}`,
    f.help,
  ]);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, h]) => `  ${l.padEnd(width)}${h}`).join("\n");
}

/** The data directory: --data-dir, else IMGD_DATA_DIR, else ./data (as serve resolves it). */
export function dataDirOf(flag: string | boolean | undefined, env: Record<string, string | undefined>): string {
  return resolveConfig({ ...configFromEnv(env), ...(typeof flag === "string" ? { dataDir: flag } : {}) }).dataDir;
}
