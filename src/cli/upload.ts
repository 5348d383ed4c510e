import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join, relative } from "node:path";
import { type FlagSpec, formatFlags, parseArgs, UsageError } from "./args.ts";
import { client, clientFlags, describeError, formatBytes, postImage } from "./client.ts";
import { concurrencyOf, eachConcurrently, Progress } from "./progress.ts";

const flags: Record<string, FlagSpec> = {
  path: { arg: "prefix", help: "Folder to upload into (e.g. blog/2024); folder structure below it is kept" },
  recursive: { boolean: true, help: "Descend into subfolders of the folders given" },
  concurrency: { arg: "n", help: "Uploads at once, 1–32 (default 4)" },
  private: { boolean: true, help: "Upload as private (served only through signed URLs)" },
  ...clientFlags,
  help: { boolean: true, help: "Show this help" },
};

export const uploadHelp = `Usage: imgd upload <files or folders…> [options]

Uploads images to a running imgd server. Folders upload the image files directly in them
(all below them with --recursive). Shows a progress bar on a terminal, one line per file
otherwise; ends with the URLs. A failed file is listed and the rest go on; the exit code is
1 if any failed.

Options:
${formatFlags(flags)}

Example:
  IMGD_API_KEY=imgsrc_… imgd upload ./photos --recursive --path trips/2024`;

const IMAGE = /\.(jpe?g|png|webp|gif|avif|heic|heif|tiff?|bmp|ico|svg|jxl)$/i;

interface Item {
  file: string;
  /** Where it goes on the server (folder + name). */
  target: string;
  size: number;
}

async function collect(inputs: string[], prefix: string, recursive: boolean): Promise<Item[]> {
  const items: Item[] = [];
  const join2 = (...p: string[]) => p.filter(Boolean).join("/");
  for (const input of inputs) {
    const s = await stat(input).catch(() => null);
    if (!s) throw new UsageError(`no such file or folder: ${input}`);
    if (s.isFile()) {
      items.push({ file: input, target: join2(prefix, basename(input)), size: s.size });
      continue;
    }
    const walk = async (dir: string) => {
      for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
        const full = join(dir, e.name);
        if (e.isDirectory() && recursive) await walk(full);
        else if (e.isFile() && IMAGE.test(e.name)) {
          const rel = relative(input, full).split(/[\\/]/).join("/");
          items.push({ file: full, target: join2(prefix, rel), size: (await stat(full)).size });
        }
      }
    };
    await walk(input);
  }
  return items;
}

export async function uploadCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { flags: f, positional } = parseArgs(argv, flags);
  if (f.help) {
    console.log(uploadHelp);
    return 0;
  }
  if (positional.length === 0) throw new UsageError("upload needs at least one file or folder");
  const concurrency = concurrencyOf(f.concurrency);
  const prefix = String(f.path ?? "").replace(/^\/+|\/+$/g, "");
  const api = client(f, env);
  const items = await collect(positional, prefix, f.recursive === true);
  if (items.length === 0) {
    console.error("no image files found (use --recursive for subfolders)");
    return 1;
  }

  const total = items.reduce((n, i) => n + i.size, 0);
  const progress = new Progress(items.length, total);
  const ok: { file: string; url: string }[] = [];
  const failed: { file: string; error: string }[] = [];
  await eachConcurrently(items, concurrency, async (item) => {
    let line: string;
    try {
      const { status, body } = await postImage(api, {
        bytes: await readFile(item.file),
        filename: basename(item.file),
        target: item.target,
        visibility: f.private ? "private" : undefined,
      });
      if (status !== 201) throw new Error(describeError(status, body));
      ok.push({ file: item.file, url: body.url });
      line = `uploaded ${item.file} → ${body.url}${body.is_new ? "" : " (same bytes as an earlier upload)"}`;
    } catch (err) {
      failed.push({ file: item.file, error: (err as Error).message });
      line = `failed ${item.file}: ${(err as Error).message}`;
    }
    progress.step(item.size, line);
  });
  progress.end();

  for (const u of ok) console.log(u.url);
  console.error(
    `${ok.length} uploaded, ${failed.length} failed, ${formatBytes(progress.bytes)} in ${progress.seconds.toFixed(1)} s`,
  );
  for (const x of failed) console.error(`  failed: ${x.file}: ${x.error}`);
  return failed.length ? 1 : 0;
}
