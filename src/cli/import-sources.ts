import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { parseS3Url, S3Client } from "../store/s3/index.ts";
import { UsageError } from "./args.ts";

// What `imgd import` reads: a folder, an S3 prefix, or a list of URLs (one per line, or a CSV
// with a header). Each source becomes a list of items, each with the path it lands at (relative
// to the source) and a way to get its bytes, or the URL the server fetches.

export interface ImportItem {
  /** Relative to the source, '/'-separated: the image lands at the prefix + this. */
  path: string;
  /** Where it comes from, for messages. */
  from: string;
  /** Bytes, when known before reading. */
  size: number | null;
  read?: () => Promise<Uint8Array>;
  url?: string;
  tags?: string[];
  metadata?: Record<string, unknown>;
  /** Why this entry of the list cannot be imported (a bad row), found while reading the list. */
  refusal?: string;
}

export interface Source {
  kind: "folder" | "s3" | "urls" | "csv";
  items: ImportItem[];
}

export async function readSource(source: string, env: Record<string, string | undefined>): Promise<Source> {
  if (/^s3:\/\//i.test(source)) return { kind: "s3", items: await s3Items(source, env) };
  const s = await stat(source).catch(() => null);
  if (!s) throw new UsageError(`no such folder, file or S3 prefix: ${source}`);
  if (s.isDirectory()) return { kind: "folder", items: await folderItems(source) };
  const text = await readFile(source, "utf8");
  if (/\.csv$/i.test(source)) return { kind: "csv", items: csvItems(text) };
  return { kind: "urls", items: urlLines(text) };
}

/** Every file below the folder; hidden files and folders (a leading '.') are left out. */
async function folderItems(root: string): Promise<ImportItem[]> {
  const items: ImportItem[] = [];
  const walk = async (dir: string) => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile())
        items.push({
          path: relative(root, full).split(/[\\/]/).join("/"),
          from: full,
          size: (await stat(full)).size,
          read: async () => new Uint8Array(await readFile(full)),
        });
    }
  };
  await walk(root);
  return items;
}

/** Every object under the prefix, with imgd's own S3 client and the same AWS_* variables as its store. */
async function s3Items(source: string, env: Record<string, string | undefined>): Promise<ImportItem[]> {
  let loc: ReturnType<typeof parseS3Url>;
  try {
    loc = parseS3Url(source, env);
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^storage URL/, "S3 source"));
  }
  const s3 = new S3Client(loc);
  const items: ImportItem[] = [];
  for await (const o of s3.list(loc.prefix)) {
    const path = o.key.slice(loc.prefix.length);
    // Folder markers some tools leave ("a/"), and hidden names, as in a folder.
    if (!path || path.endsWith("/") || path.split("/").some((s) => s.startsWith("."))) continue;
    items.push({
      path,
      from: `s3://${loc.bucket}/${o.key}`,
      size: o.size,
      read: async () => {
        const res = await s3.get(o.key);
        if (!res) throw new Error("the object is gone from the bucket");
        return new Uint8Array(await res.arrayBuffer());
      },
    });
  }
  return items;
}

/** The path a URL's image keeps: its own path, without the leading '/'. */
function pathOfUrl(url: URL): string {
  try {
    return decodeURIComponent(url.pathname).replace(/^\/+/, "");
  } catch {
    return url.pathname.replace(/^\/+/, "");
  }
}

function urlItem(raw: string, where: string, extra: Partial<ImportItem> = {}): ImportItem {
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch {}
  const base = { from: where, size: null, url: url?.href ?? raw, ...extra };
  if (!url || !/^https?:$/.test(url.protocol))
    return { ...base, path: extra.path ?? raw, refusal: "not an http(s) URL" };
  return { ...base, path: extra.path ?? pathOfUrl(url) };
}

/** One URL a line; blank lines and lines starting with '#' are skipped. */
function urlLines(text: string): ImportItem[] {
  const items: ImportItem[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const raw = line.trim();
    if (raw && !raw.startsWith("#")) items.push(urlItem(raw, `line ${i + 1}`));
  });
  return items;
}

/** A CSV with a header row: url (required), path, tags (comma-separated), metadata (a JSON object). */
function csvItems(text: string): ImportItem[] {
  const rows = parseCsv(text.replace(/^\ufeff/, ""));
  const header = (rows.shift() ?? []).map((h) => h.trim().toLowerCase());
  const col = (name: string) => header.indexOf(name);
  if (col("url") < 0)
    throw new UsageError("the CSV needs a header row with a 'url' column (and optionally path, tags, metadata)");
  const unknown = header.filter((h) => !["url", "path", "tags", "metadata"].includes(h));
  if (unknown.length) throw new UsageError(`the CSV has columns imgd does not know: ${unknown.join(", ")}`);
  const items: ImportItem[] = [];
  rows.forEach((row, i) => {
    const cell = (name: string) => (col(name) < 0 ? "" : (row[col(name)] ?? "").trim());
    if (row.every((c) => c.trim() === "")) return;
    const where = `row ${i + 2}`;
    const extra: Partial<ImportItem> = {};
    if (cell("path")) extra.path = cell("path").replace(/^\/+/, "");
    if (cell("tags"))
      extra.tags = cell("tags")
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean);
    let bad: string | undefined;
    if (cell("metadata")) {
      try {
        const m = JSON.parse(cell("metadata"));
        if (!m || typeof m !== "object" || Array.isArray(m)) bad = "metadata is not a JSON object";
        else extra.metadata = m;
      } catch {
        bad = "metadata is not valid JSON";
      }
    }
    const item = urlItem(cell("url"), where, extra);
    items.push(bad && !item.refusal ? { ...item, refusal: bad } : item);
  });
  return items;
}

/** RFC 4180: fields split by commas, quoted with '"' ('""' inside is one quote), rows by CRLF or LF. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") row.push(field), (field = "");
    else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
  }
  if (field !== "" || row.length) row.push(field), rows.push(row);
  return rows.filter((r) => r.length > 1 || r[0] !== "");
}
