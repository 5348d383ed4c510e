import { configFromEnv, resolveConfig } from "../config.ts";
import type { Scope } from "../domain/accounts/keys.ts";
import { type FlagSpec, formatFlags, parseArgs, UsageError } from "./args.ts";
import { withImgd } from "./instance.ts";

const flags: Record<string, FlagSpec> = {
  "data-dir": { arg: "dir", help: "Data directory of the imgd instance [IMGD_DATA_DIR, default ./data]" },
  user: { arg: "username", help: "Whose key (default: the admin user)" },
  name: { arg: "name", help: "create: a label for the key (default 'cli')" },
  scopes: { arg: "list", help: "create: read, write or read,write (default read,write)" },
  "expires-in-days": { arg: "n", help: "create: expiry, 1–365 days (default: never)" },
  help: { boolean: true, help: "Show this help" },
};

export const keysHelp = `Usage: imgd keys <create|list|revoke> [options]

Manages API keys directly in the data directory, or in the PostgreSQL database that
IMGD_DATABASE_URL names (as the server does); no running server is needed.

  imgd keys create [--name N] [--scopes read,write] [--expires-in-days N]
      Prints the new key alone on stdout (it is shown only once).
  imgd keys list
      One line per key: id, prefix, scopes, created, last used, expiry, requests.
  imgd keys revoke <id>
      Deletes the key; requests with it fail at once.

Options:
${formatFlags(flags)}`;

export async function keysCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { flags: f, positional } = parseArgs(argv, flags);
  if (f.help || positional.length === 0) {
    console.log(keysHelp);
    return f.help ? 0 : 2;
  }
  const [sub, ...rest] = positional;
  if (!["create", "list", "revoke"].includes(sub))
    throw new UsageError(`unknown keys command '${sub}' (create, list or revoke)`);
  const input = { ...configFromEnv(env), ...(f["data-dir"] ? { dataDir: f["data-dir"] } : {}) };
  const config = resolveConfig(input);
  return withImgd(input, async ({ users, keys }) => {
    const user = f.user ? await users.byUsername(String(f.user)) : (await users.ensureAdmin(config.adminUsername)).user;
    if (!user) throw new UsageError(`no user named '${f.user}'`);
    if (sub === "create") {
      const scopes = String(f.scopes ?? "read,write")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      if (!scopes.length || scopes.some((s) => s !== "read" && s !== "write"))
        throw new UsageError("--scopes takes read, write or read,write");
      let days: number | undefined;
      if (f["expires-in-days"] !== undefined) {
        days = Number(f["expires-in-days"]);
        if (!Number.isInteger(days) || days < 1 || days > 365)
          throw new UsageError("--expires-in-days takes a whole number from 1 to 365");
      }
      const name = String(f.name ?? "cli");
      if (name.length < 1 || name.length > 100) throw new UsageError("--name takes 1–100 characters");
      const { secret } = await keys.create(user.id, { name, scopes: scopes as Scope[], expiresInDays: days });
      console.log(secret);
    } else if (sub === "list") {
      const date = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString().slice(0, 19) + "Z");
      for (const k of await keys.list(user.id)) {
        console.log(
          [
            k.id,
            k.key_prefix,
            k.scopes,
            date(k.created_at),
            date(k.last_used_at),
            date(k.expires_at),
            k.total_requests,
            k.name,
          ].join("\t"),
        );
      }
    } else {
      if (rest.length !== 1) throw new UsageError("keys revoke takes one key id (see 'imgd keys list')");
      if (!(await keys.delete(user.id, rest[0]))) {
        console.error(`no key with id ${rest[0]} for user ${user.username}`);
        return 1;
      }
      console.log(`revoked ${rest[0]}`);
    }
    return 0;
  });
}
