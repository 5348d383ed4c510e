import { parseArgs as parseTokens } from "node:util";

// Command-line flags: anything unknown is a usage error that names the flag (exit code 2).

export class UsageError extends Error {
  override name = "UsageError";
}

export interface FlagSpec {
  /** Takes a value (default) or is a switch. */
  boolean?: boolean;
  help: string;
  /** Shown in help as `--flag <arg>` */
  arg?: string;
}

/**
 * Reads `argv` with node:util's parseArgs (its tokens, so the messages and exit code stay
 * ours): `--name value`, `--name=value`, `--switch` or `--switch=false`, `--` ends options.
 */
export function parseArgs(argv: string[], specs: Record<string, FlagSpec>) {
  const options = Object.fromEntries(
    Object.entries(specs).map(([name, s]) => [name, { type: s.boolean ? ("boolean" as const) : ("string" as const) }]),
  );
  const { tokens } = parseTokens({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  const flags: Record<string, string | boolean> = {};
  const positional: string[] = [];
  for (const t of tokens) {
    if (t.kind === "positional") positional.push(t.value);
    if (t.kind !== "option") continue;
    const spec = Object.hasOwn(specs, t.name) && t.rawName.startsWith("--") ? specs[t.name] : undefined;
    if (!spec) throw new UsageError(`unknown option '${t.rawName}'`);
    if (spec.boolean) flags[t.name] = t.value === undefined || !["false", "0", "no"].includes(t.value);
    else if (t.value === undefined) throw new UsageError(`option '${t.rawName}' needs a value`);
    else flags[t.name] = t.value;
  }
  return { flags, positional };
}

export function formatFlags(specs: Record<string, FlagSpec>): string {
  const rows = Object.entries(specs).map(([name, s]) => [
    `--${name}${s.boolean ? "" : ` <${s.arg ?? "value"}>`}`,
    s.help,
  ]);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, h]) => `  ${l.padEnd(width)}${h}`).join("\n");
}
