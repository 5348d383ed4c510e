import { join } from "node:path";
import { mkdir } from "node:fs/promises";
import { configFromEnv, resolveConfig } from "../config.ts";
import { openDatabase } from "../db/connection.ts";
import { Users } from "../domain/users.ts";
import { detectRuntime } from "../runtime/index.ts";
import { type FlagSpec, formatFlags, parseArgs, UsageError } from "./args.ts";

const flags: Record<string, FlagSpec> = {
  "data-dir": { arg: "dir", help: "Data directory of the imgd instance [IMGD_DATA_DIR, default ./data]" },
  email: { arg: "address", help: "create: the user's email address" },
  help: { boolean: true, help: "Show this help" },
};

export const usersHelp = `Usage: imgd users <create|list> [options]

Manages users (tenants) directly in the data directory; no running server is needed.
Each user has their own images, keys, presets and counters, and a username that appears in
delivery URLs (/i/{username}/…).

  imgd users create <username> [--email ADDRESS]
  imgd users list

Options:
${formatFlags(flags)}`;

const USERNAME = /^[a-z0-9][a-z0-9_-]{1,38}$/;

export async function usersCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { flags: f, positional } = parseArgs(argv, flags);
  if (f.help || positional.length === 0) {
    console.log(usersHelp);
    return f.help ? 0 : 2;
  }
  const [sub, ...rest] = positional;
  if (!["create", "list"].includes(sub)) throw new UsageError(`unknown users command '${sub}' (create or list)`);
  const config = resolveConfig({ ...configFromEnv(env), ...(f["data-dir"] ? { dataDir: f["data-dir"] } : {}) });
  await mkdir(config.dataDir, { recursive: true });
  const db = await openDatabase(await detectRuntime(), join(config.dataDir, "imgd.sqlite"));
  try {
    const users = new Users(db, config.now);
    if (sub === "create") {
      const [username] = rest;
      if (!username || !USERNAME.test(username)) throw new UsageError("users create takes a username of 2–39 lowercase letters, digits, '-' or '_'");
      if (await users.byUsername(username)) {
        console.error(`a user named '${username}' exists already`);
        return 1;
      }
      const user = await users.create({ username, email: f.email ? String(f.email) : null });
      console.log(user.id);
    } else {
      for (const u of await db.selectFrom("users").selectAll().orderBy("created_at").execute()) {
        console.log([u.id, u.username, u.role, u.plan, u.email ?? "-"].join("\t"));
      }
    }
    return 0;
  } finally {
    await db.destroy();
  }
}
