import { configFromEnv, resolveConfig } from "../config.ts";
import { AppError } from "../domain/errors.ts";
import { type FlagSpec, formatFlags, parseArgs, UsageError } from "./args.ts";
import { withImgd } from "./instance.ts";

// `imgd users passwd NAME`: a dashboard password from the command line, or a one-time link
// that lets the user choose one in the browser. Works on the data directory; no server needed.

const flags: Record<string, FlagSpec> = {
  "data-dir": { arg: "dir", help: "Data directory of the imgd instance [IMGD_DATA_DIR, default ./data]" },
  link: {
    boolean: true,
    help: "Print a one-time link (valid 24 hours) that lets the user choose the password in the browser",
  },
  url: {
    arg: "url",
    help: "--link: the server's address as browsers reach it [IMGD_PUBLIC_URL, default http://localhost:8080]",
  },
  help: { boolean: true, help: "Show this help" },
};

export const passwdHelp = `Usage: imgd users passwd <username|email> [--link] [options]

Sets the user's dashboard password. On a terminal it asks twice without echoing; otherwise it
reads the first line of stdin (echo 'my long password' | imgd users passwd admin). Passwords
have 10–256 characters and are stored as argon2id hashes. Every session of the user ends.

With --link it changes nothing and prints a one-time link instead, for the user to open and
choose a password (e.g. when the first-start link was lost).

Options:
${formatFlags(flags)}`;

export const setupLink = (base: string, token: string) => `${base.replace(/\/+$/, "")}/setup#${token}`;

export async function passwdCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { flags: f, positional } = parseArgs(argv, flags);
  if (f.help) {
    console.log(passwdHelp);
    return 0;
  }
  const [login, extra] = positional;
  if (!login || extra !== undefined) throw new UsageError("users passwd takes one username or email");
  const input = { ...configFromEnv(env), ...(f["data-dir"] ? { dataDir: f["data-dir"] } : {}) };
  const config = resolveConfig(input);
  // Read before the instance opens: a prompt must not hold the database.
  const password = f.link ? "" : await readPassword();
  return withImgd(input, async ({ passwords, sessions, users }) => {
    const user = (await passwords.userByLogin(login)) ?? (await users.byId(login));
    if (!user) {
      console.error(`no user '${login}': see imgd users list`);
      return 1;
    }
    if (f.link) {
      const base =
        typeof f.url === "string" ? f.url : (config.publicUrl ?? `http://localhost:${config.port}`) + config.basePath;
      console.log(setupLink(base, await sessions.createSetupToken(user.id)));
      return 0;
    }
    try {
      await passwords.set(user.id, password);
    } catch (err) {
      if (err instanceof AppError) {
        console.error(err.message);
        return 1;
      }
      throw err;
    }
    const ended = await sessions.revokeOthers(user.id, null);
    console.error(`password of ${user.username} set${ended ? `; ${ended} session(s) signed out` : ""}`);
    return 0;
  });
}

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(Buffer.from(c));
    return Buffer.concat(chunks).toString("utf8").split(/\r?\n/)[0];
  }
  const first = await prompt("New password: ");
  const second = await prompt("Again: ");
  if (first !== second) throw new UsageError("the two passwords differ");
  return first;
}

/** Reads one line from the terminal without echoing it. */
function prompt(question: string): Promise<string> {
  process.stderr.write(question);
  const stdin = process.stdin;
  stdin.setRawMode?.(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let line = "";
    const done = (fn: () => void) => {
      stdin.off("data", onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      process.stderr.write("\n");
      fn();
    };
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return done(() => resolve(line));
        if (ch === "\u0003") return done(() => reject(new UsageError("cancelled")));
        if (ch === "\u007f" || ch === "\b") line = line.slice(0, -1);
        else line += ch;
      }
    };
    stdin.on("data", onData);
  });
}
