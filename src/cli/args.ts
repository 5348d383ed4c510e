// A small flag parser: `--name value`, `--name=value`, boolean `--flag`; anything unknown is a
// usage error that names the flag (exit code 2).

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

export function parseArgs(argv: string[], specs: Record<string, FlagSpec>) {
  const flags: Record<string, string | boolean> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith("--") || a === "--") {
      if (a.startsWith("-") && a.length > 1) throw new UsageError(`unknown option '${a}'`);
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown option '--${name}'`);
    if (spec.boolean) {
      flags[name] = eq < 0 ? true : !["false", "0", "no"].includes(a.slice(eq + 1));
    } else if (eq >= 0) {
      flags[name] = a.slice(eq + 1);
    } else {
      const value = argv[++i];
      if (value === undefined) throw new UsageError(`option '--${name}' needs a value`);
      flags[name] = value;
    }
  }
  return { flags, positional };
}

export function formatFlags(specs: Record<string, FlagSpec>): string {
  const rows = Object.entries(specs).map(([name, s]) => [`--${name}${s.boolean ? "" : ` <${s.arg ?? "value"}>`}`, s.help]);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, h]) => `  ${l.padEnd(width)}${h}`).join("\n");
}
