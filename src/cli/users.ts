import { configFromEnv, resolveConfig } from "../config.ts";
import { USERNAME } from "../domain/accounts/accounts.ts";
import { AppError } from "../domain/errors.ts";
import { type FlagSpec, formatFlags, parseArgs, UsageError } from "./args.ts";
import { withImgd } from "./instance.ts";
import { passwdCommand } from "./passwd.ts";

const flags: Record<string, FlagSpec> = {
  "data-dir": { arg: "dir", help: "Data directory of the imgd instance [IMGD_DATA_DIR, default ./data]" },
  email: { arg: "address", help: "create: the user's email address" },
  plans: { arg: "json|file", help: "Plans besides the built-in free, pro and unlimited [IMGD_PLANS]" },
  help: { boolean: true, help: "Show this help" },
};

export const usersHelp = `Usage: imgd users <create|list|verify|set-plan|passwd|delete> [options]

Manages users (tenants) directly in the data directory, or in the PostgreSQL database that
IMGD_DATABASE_URL names (as the server does); no running server is needed.
Each user has their own images, keys, presets and counters, and a username that appears in
delivery URLs (/i/{username}/…).

  imgd users create <username> [--email ADDRESS]
  imgd users list
  imgd users verify <username|id|email>     lift the limits of a self-registered account
  imgd users set-plan <username|id|email> <plan>
                                            assign a plan (free, pro, unlimited or one of IMGD_PLANS)
  imgd users delete <username|id|email>     remove the user, its keys and its images
  imgd users passwd <username|email> [--link]
                                            set the dashboard password (see imgd users passwd --help)

A server that is running notices a verification at once; after a delete, restart it (or wait a
few seconds) so that no cached answer of the user's delivery URLs remains.

Options:
${formatFlags(flags)}`;

export async function usersCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  if (argv[0] === "passwd") return passwdCommand(argv.slice(1), env);
  const { flags: f, positional } = parseArgs(argv, flags);
  if (f.help || positional.length === 0) {
    console.log(usersHelp);
    return f.help ? 0 : 2;
  }
  const [sub, ...rest] = positional;
  if (!["create", "list", "verify", "set-plan", "delete"].includes(sub))
    throw new UsageError(`unknown users command '${sub}' (create, list, verify, set-plan or delete)`);
  const input = {
    ...configFromEnv(env),
    ...(f["data-dir"] ? { dataDir: f["data-dir"] } : {}),
    ...(f.plans ? { plans: f.plans } : {}),
  };
  resolveConfig(input); // a bad setting is a usage error before anything is opened
  return withImgd(input, async ({ users, accounts, plans }) => {
    if (sub === "create") {
      const [username] = rest;
      if (!username || !USERNAME.test(username))
        throw new UsageError("users create takes a username of 2–39 lowercase letters, digits, '-' or '_'");
      const taken = await users.taken(username);
      if (taken) {
        console.error(
          taken === "in-use"
            ? `a user named '${username}' exists already`
            : `'${username}' belonged to a deleted user and is never given again (its old links must not serve someone else): choose another name`,
        );
        return 1;
      }
      const user = await users.create({ username, email: f.email ? String(f.email) : null });
      console.log(user.id);
    } else if (sub === "verify" || sub === "delete" || sub === "set-plan") {
      const [ref, planName] = rest;
      if (!ref) throw new UsageError(`users ${sub} takes a username, id or email`);
      if (sub === "set-plan" && !planName) throw new UsageError("users set-plan takes a user and a plan name");
      if (sub === "set-plan" && !plans.has(planName)) {
        console.error(`unknown plan '${planName}': one of ${plans.names().join(", ")}`);
        return 1;
      }
      try {
        if (sub === "set-plan") {
          const u = await users.update((await accounts.find(ref)).id, { plan: planName });
          console.log(`${u.username} (${u.id}) is on plan ${planName}`);
          return 0;
        }
        // Through the server's own services: the images go with their variant files.
        const u = sub === "verify" ? await accounts.setVerified(ref, true) : await accounts.delete(ref);
        console.log(`${sub === "verify" ? "verified" : "deleted"} ${u.username} (${u.id})`);
      } catch (err) {
        if (err instanceof AppError) {
          console.error(err.message);
          return 1;
        }
        throw err;
      }
    } else {
      for (const u of await users.list()) {
        console.log(
          [u.id, u.username, u.role, u.plan, u.verified ? "verified" : "unverified", u.email ?? "-"].join("\t"),
        );
      }
    }
    return 0;
  });
}
