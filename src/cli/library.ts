import { type FlagSpec, formatFlags, parseArgs, UsageError } from "./args.ts";
import { client, clientFlags, formatBytes } from "./client.ts";

const lsFlags: Record<string, FlagSpec> = {
  path: { arg: "folder", help: "List this folder (its images and subfolders)" },
  limit: { arg: "n", help: "At most this many images, 1–100 (default 50)" },
  offset: { arg: "n", help: "Skip this many (default 0)" },
  sort: { arg: "order", help: "newest (default), oldest, name or size" },
  json: { boolean: true, help: "Print the server's JSON" },
  ...clientFlags,
  help: { boolean: true, help: "Show this help" },
};

export const lsHelp = `Usage: imgd ls [options]

Lists images on a running imgd server: id, size, dimensions, paths.

Options:
${formatFlags(lsFlags)}`;

export async function lsCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { flags: f, positional } = parseArgs(argv, lsFlags);
  if (f.help) return (console.log(lsHelp), 0);
  if (positional.length)
    throw new UsageError(`ls takes no arguments (got '${positional[0]}'); use --path for a folder`);
  const q = new URLSearchParams();
  for (const k of ["path", "limit", "offset", "sort"]) if (f[k] !== undefined) q.set(k, String(f[k]));
  const body = await client(f, env).json(`/api/v1/images?${q}`);
  if (f.json) return (console.log(JSON.stringify(body, null, 2)), 0);
  for (const folder of body.folders) console.log(`${folder.name}/\t(${folder.image_count} images)`);
  for (const img of body.images)
    console.log([img.id, formatBytes(img.size), img.visibility, img.paths.join(", ")].join("\t"));
  console.error(`${body.images.length} of ${body.total} images${body.has_more ? " (more with --offset)" : ""}`);
  return 0;
}

const rmFlags: Record<string, FlagSpec> = { ...clientFlags, help: { boolean: true, help: "Show this help" } };

export const rmHelp = `Usage: imgd rm <id or path…> [options]

Deletes images by id, or removes one path (the image goes with its last path).

Options:
${formatFlags(rmFlags)}`;

export async function rmCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { flags: f, positional } = parseArgs(argv, rmFlags);
  if (f.help) return (console.log(rmHelp), 0);
  if (positional.length === 0) throw new UsageError("rm needs at least one image id or path");
  const api = client(f, env);
  let failures = 0;
  const me = (await api.json("/api/v1/settings")).settings.username as string;
  for (const target of positional) {
    const isId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(target);
    const path = isId
      ? `/api/v1/images/${target}`
      : `/api/v1/images/path/${encodeURIComponent(me)}/${encodeURIComponent(target)}`;
    try {
      const r = await api.json(path, { method: "DELETE" });
      console.log(
        isId
          ? `deleted ${target} (${r.deleted_paths.join(", ")})`
          : `removed ${target}${r.image_deleted ? " (image deleted)" : ""}`,
      );
    } catch (err) {
      failures++;
      console.error(`failed ${target}: ${(err as Error).message}`);
    }
  }
  return failures ? 1 : 0;
}

const usageFlags: Record<string, FlagSpec> = {
  json: { boolean: true, help: "Print the server's JSON" },
  ...clientFlags,
  help: { boolean: true, help: "Show this help" },
};

export const usageHelp = `Usage: imgd usage [options]

Shows this month's counters and the plan's limits on a running imgd server.

Options:
${formatFlags(usageFlags)}`;

export async function usageCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { flags: f, positional } = parseArgs(argv, usageFlags);
  if (f.help) return (console.log(usageHelp), 0);
  if (positional.length) throw new UsageError("usage takes no arguments");
  const u = await client(f, env).json("/api/v1/usage");
  if (f.json) return (console.log(JSON.stringify(u, null, 2)), 0);
  const lim = (n: number | null) => (n === null ? "unlimited" : String(n));
  const p = u.current_period;
  console.log(`plan             ${u.plan_name} (${u.plan})`);
  console.log(`period           ${p.period}`);
  console.log(`uploads          ${p.uploads} / ${lim(u.plan_limits.max_uploads_per_month)}`);
  console.log(`transformations  ${p.transformations} / ${lim(u.plan_limits.max_transformations_per_month)}`);
  console.log(`api requests     ${p.api_requests} / ${lim(u.plan_limits.max_api_requests_per_month)}`);
  console.log(`bandwidth        ${formatBytes(p.bandwidth_bytes)}`);
  console.log(
    `storage          ${formatBytes(u.storage_used_bytes)} in ${u.total_images} images / ${u.plan_limits.max_storage_bytes === null ? "unlimited" : formatBytes(u.plan_limits.max_storage_bytes)}`,
  );
  return 0;
}
