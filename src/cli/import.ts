import { createHash } from "node:crypto";
import { probe, unsupportedFormat } from "../../codecs/probe/index.ts";
import { configFromEnv } from "../config.ts";
import { stemOf, validatePath } from "../domain/library/paths.ts";
import { type FlagSpec, formatFlags, parseArgs, UsageError } from "./args.ts";
import { client, clientFlags } from "./client.ts";
import { type ImportItem, readSource } from "./import-sources.ts";
import { type ImportTarget, localTarget, Refused, remoteTarget } from "./import-target.ts";
import { withImgd } from "./instance.ts";
import { concurrencyOf, eachConcurrently, Progress } from "./progress.ts";

const flags: Record<string, FlagSpec> = {
  ...clientFlags,
  "data-dir": {
    arg: "dir",
    help: "Import into this data directory in this process instead of a server (no key needed)",
  },
  user: { arg: "username", help: "With --data-dir: whose library (default: the admin user)" },
  prefix: { arg: "p", help: "Put each file at {prefix}{path in SOURCE}, e.g. --prefix old-site/ (default: none)" },
  "dry-run": { boolean: true, help: "Show what would be imported, skipped or refused; change nothing" },
  replace: { boolean: true, help: "Replace an image whose path holds other content (default: report a conflict)" },
  tags: { arg: "a,b", help: "Tags for every image, comma-separated (added to a CSV row's own)" },
  visibility: { arg: "public|private", help: "Visibility of the new images (default public)" },
  concurrency: { arg: "n", help: "Files at once, 1–32 (default 4)" },
  help: { boolean: true, help: "Show this help" },
};

export const importHelp = `Usage: imgd import SOURCE [options]

Brings a library over to imgd: each file lands at {prefix}{its path in SOURCE}, so old URLs keep
their shape (/i/{user}/{path}). SOURCE is one of:
  a folder           every file below it (hidden files and folders left out)
  s3://bucket/pfx/   every object under the prefix, reached with the same variables as imgd's
                     S3 storage: AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
                     AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_S3_FORCE_PATH_STYLE
  a file of URLs     one http(s) URL a line ('#' starts a comment); each lands at the URL's own
                     path (https://old.example/img/a.jpg → img/a.jpg)
  a .csv file        a header row naming its columns: url (required), path (where it lands;
                     default the URL's path), tags (comma-separated, so quoted), metadata (a JSON
                     object of custom fields), e.g.
                       url,path,tags,metadata
                       https://old.example/a.jpg,blog/a.jpg,"travel,2024","{""alt"":""A beach""}"
URLs are fetched by the server (or, with --data-dir, by this process) through imgd's URL import:
public addresses only unless IMGD_IMPORT_ALLOW_NETWORKS allows more, IMGD_MAX_UPLOAD_BYTES and
IMGD_IMPORT_TIMEOUT_MS apply.

Safe to stop and run again: the library is the only state. A path that holds the same bytes
(for a URL: imported from the same URL) is skipped; a path that holds other bytes is a conflict,
reported and left alone unless --replace. Identical files are stored once. A file without an
image extension gets the one of its format (delivery URLs without it still find it).

Shows a progress bar on a terminal, one line per file otherwise (with --dry-run: the plan, on
stdout). Ends with a summary and every file refused and why (not an image, too large, a bad
path, a conflict…); the exit code is 1 if any was refused or failed.

Options:
${formatFlags(flags)}

Examples:
  IMGD_API_KEY=imgsrc_… imgd import ./public/images --server https://img.example.com --dry-run
  imgd import s3://old-bucket/uploads/ --data-dir ./data --prefix uploads/
  imgd import urls.csv --tags imported --visibility private`;

const SUMMARY: Record<Outcome, [done: string, planned: string]> = {
  imported: ["imported", "to import"],
  aliased: ["imported as new paths of images already there", "to import"],
  skipped: ["skipped (already there)", "to skip (already there)"],
  replaced: ["replaced", "to replace"],
  conflict: ["conflicts", "conflicts"],
  refused: ["refused", "to refuse"],
  failed: ["failed", "failed"],
};

type Outcome = "imported" | "aliased" | "skipped" | "replaced" | "conflict" | "refused" | "failed";

interface Result {
  outcome: Outcome;
  path: string;
  detail?: string;
}

const WORDS: Record<Outcome, [done: string, planned: string]> = {
  imported: ["imported", "would import"],
  aliased: ["imported", "would import"],
  skipped: ["skipped", "would skip"],
  replaced: ["replaced", "would replace"],
  conflict: ["conflict", "conflict"],
  refused: ["refused", "would refuse"],
  failed: ["failed", "failed"],
};

export async function importCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { flags: f, positional } = parseArgs(argv, flags);
  if (f.help) return (console.log(importHelp), 0);
  if (positional.length !== 1)
    throw new UsageError("import takes one SOURCE: a folder, s3://bucket/prefix/ or a file of URLs");
  const concurrency = concurrencyOf(f.concurrency);
  const visibility = f.visibility === undefined ? undefined : String(f.visibility);
  if (visibility !== undefined && visibility !== "public" && visibility !== "private")
    throw new UsageError("--visibility takes public or private");
  if (f["data-dir"] !== undefined && (f.server !== undefined || f.key !== undefined))
    throw new UsageError("give --data-dir or --server/--key, not both");
  if (f.user !== undefined && f["data-dir"] === undefined) throw new UsageError("--user goes with --data-dir");
  const tags =
    typeof f.tags === "string"
      ? f.tags
          .split(",")
          .map((t) => t.trim())
          .filter(Boolean)
      : [];
  const options: RunOptions = {
    prefix: typeof f.prefix === "string" ? f.prefix.replace(/^\/+/, "") : "",
    dryRun: f["dry-run"] === true,
    replace: f.replace === true,
    tags,
    visibility: visibility as RunOptions["visibility"],
    concurrency,
  };
  const source = await readSource(positional[0], env);
  if (typeof f["data-dir"] === "string") {
    const input = { ...configFromEnv(env), dataDir: f["data-dir"] };
    return withImgd(
      input,
      async (services) => {
        const user = f.user
          ? await services.users.byUsername(String(f.user))
          : (await services.users.ensureAdmin(services.config.adminUsername)).user;
        if (!user) throw new UsageError(`no user named '${f.user}'`);
        return run(source.items, localTarget(services, user, String(f["data-dir"])), options);
      },
      { codecs: !options.dryRun },
    );
  }
  return run(source.items, await remoteTarget(client(f, env)), options);
}

interface RunOptions {
  prefix: string;
  dryRun: boolean;
  replace: boolean;
  tags: string[];
  visibility?: "public" | "private";
  concurrency: number;
}

async function run(items: ImportItem[], target: ImportTarget, o: RunOptions): Promise<number> {
  const known = items.every((i) => i.size !== null);
  const progress = new Progress(items.length, known ? items.reduce((n, i) => n + (i.size ?? 0), 0) : null);
  const results: Result[] = [];
  const counts = Object.fromEntries(Object.keys(WORDS).map((k) => [k, 0])) as Record<Outcome, number>;
  await eachConcurrently(items, o.concurrency, async (item) => {
    const r = await withRetries(() => importOne(item, target, o), o.prefix + item.path);
    results.push(r);
    counts[r.outcome]++;
    const line = `${WORDS[r.outcome][o.dryRun ? 1 : 0]} ${r.path}${r.detail ? `: ${r.detail}` : ""}`;
    if (o.dryRun) console.log(line);
    else progress.step(item.size ?? 0, line);
  });
  progress.end();
  const bad = results.filter((r) => ["conflict", "refused", "failed"].includes(r.outcome));
  const summary = (Object.keys(WORDS) as Outcome[])
    .filter((k) => counts[k] > 0)
    .map((k) => `${counts[k]} ${SUMMARY[k][o.dryRun ? 1 : 0]}`)
    .join(", ");
  console.error(
    `${o.dryRun ? "dry run, nothing changed: " : ""}${items.length} files from the source into ${target.where}: ${summary || "nothing to do"} (${progress.seconds.toFixed(1)} s)`,
  );
  if (bad.length) {
    console.error("Not imported:");
    for (const r of bad.sort((a, b) => (a.path < b.path ? -1 : 1)))
      console.error(`  ${r.outcome} ${r.path}: ${r.detail}`);
  }
  return bad.length ? 1 : 0;
}

/** A failure that is not the item's fault (the network, a busy server) is tried twice more. */
async function withRetries(fn: () => Promise<Result>, path: string): Promise<Result> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof Refused) return { outcome: "refused", path, detail: err.message };
      if (attempt >= 3) return { outcome: "failed", path, detail: (err as Error).message };
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

async function importOne(item: ImportItem, target: ImportTarget, o: RunOptions): Promise<Result> {
  let path = o.prefix + item.path;
  const refused = (detail: string): Result => ({ outcome: "refused", path, detail });
  if (item.refusal) return refused(`${item.from}: ${item.refusal}`);
  let bytes: Uint8Array | undefined;
  let hash: string | undefined;
  if (item.read) {
    bytes = await item.read();
    if (bytes.byteLength === 0) return refused("empty file");
    const header = probe(bytes.subarray(0, 1 << 20));
    if (!header) return refused(unsupportedFormat(bytes) ?? "not an image imgd reads");
    if (stemOf(path) === path) path += `.${header.format === "jpeg" ? "jpg" : header.format}`;
    hash = createHash("sha256").update(bytes).digest("hex");
  } else if (stemOf(path) === path) {
    return refused("the path has no image extension: give the path (with one) in a CSV's path column");
  }
  try {
    path = validatePath(path);
  } catch (err) {
    return refused((err as Error).message);
  }
  const existing = await target.lookup(path);
  const incoming = {
    path,
    filename: path.slice(path.lastIndexOf("/") + 1),
    bytes,
    url: item.url,
    visibility: o.visibility,
    tags: [...new Set([...(item.tags ?? []), ...o.tags])],
    metadata: item.metadata,
  };
  if (existing) {
    const same = hash !== undefined ? existing.hash === hash : existing.sourceUrl === item.url;
    if (same)
      return {
        outcome: "skipped",
        path,
        detail: existing.path === path ? "already there" : `already there as ${existing.path}`,
      };
    const other =
      hash !== undefined
        ? `other bytes (sha256 ${existing.hash.slice(0, 12)}…)`
        : `an image not imported from this URL`;
    if (!o.replace)
      return { outcome: "conflict", path, detail: `${existing.path} holds ${other}; --replace replaces it` };
    if (o.dryRun) return { outcome: "replaced", path };
    await target.remove(existing.path);
    await target.store(incoming);
    return { outcome: "replaced", path };
  }
  if (o.dryRun) return { outcome: "imported", path };
  const stored = await target.store(incoming);
  return stored.isNew
    ? { outcome: "imported", path }
    : { outcome: "aliased", path, detail: "the same bytes as an image already there, now at this path too" };
}
