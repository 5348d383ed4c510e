import { Database } from "bun:sqlite";
import { expect } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { unlink } from "node:fs/promises";
import { AwsClient } from "aws4fetch";
import { s3ObjectFiles, sharedS3, TEST_BUCKET } from "./s3.ts";

// What a data directory holds: the rows that describe images and every file in the blob store.
// A refusal must leave it exactly as it was.

function files(root: string, dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(join(d, e.name).slice(root.length));
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * Rows of the database of a test server's data dir: its SQLite file, or the PostgreSQL database
 * the server helper noted there (IMGD_TEST_DATABASE=postgres), read with psql so that these
 * helpers stay synchronous on both.
 */
export function query<T = any>(dataDir: string, sql: string, ...params: any[]): T[] {
  const note = join(dataDir, ".test-database-url");
  if (existsSync(note)) return queryPostgres(readFileSync(note, "utf8").trim(), sql, params) as T[];
  const db = new Database(join(dataDir, "imgd.sqlite"), { readonly: true });
  try {
    return db.query(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** Changes rows behind the server's back (as an older imgd left them), on either database. */
export function execute(dataDir: string, sql: string, ...params: any[]): void {
  const note = join(dataDir, ".test-database-url");
  if (existsSync(note)) {
    let i = 0;
    const text = sql.replace(/\?/g, () => literal(params[i++]));
    const url = readFileSync(note, "utf8").trim();
    const p = Bun.spawnSync(["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", text], { stderr: "pipe" });
    if (p.exitCode !== 0) throw new Error(`psql: ${p.stderr.toString()}\n${text}`);
    return;
  }
  const db = new Database(join(dataDir, "imgd.sqlite"));
  try {
    db.run(sql, params);
  } finally {
    db.close();
  }
}

function literal(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  return `'${String(v).replaceAll("'", "''")}'`;
}

function queryPostgres(url: string, sql: string, params: unknown[]): unknown[] {
  let i = 0;
  const text = sql.replace(/\?/g, () => literal(params[i++]));
  const p = Bun.spawnSync(
    [
      "psql",
      url,
      "-X",
      "-q",
      "-A",
      "-t",
      "-v",
      "ON_ERROR_STOP=1",
      "-c",
      `select coalesce(json_agg(t), '[]') from (${text}) t`,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (p.exitCode !== 0) throw new Error(`psql: ${p.stderr.toString()}\n${text}`);
  return JSON.parse(p.stdout.toString());
}

export function snapshot(dataDir: string) {
  const rows: Record<string, unknown[]> = Object.fromEntries(
    ["images", "image_paths", "image_tags", "blobs", "users"].map((t) => [
      t,
      query(dataDir, `select * from ${t} order by 1, 2`),
    ]),
  );
  // Use counts change with every request; which keys exist must not.
  rows.api_keys = query(dataDir, "select id, user_id, key_hash, scopes, expires_at from api_keys order by id");
  // On S3 (IMGD_TEST_STORAGE=s3) the same places are prefixes in the test bucket.
  return { rows, files: ["blobs", "tmp", "trash"].flatMap((d) => storedFiles(dataDir, d)) };
}

/** Asserts an img.pro error envelope and that the store is as `before` (temp files may take a moment). */
export async function refusedImgpro(
  res: Response,
  status: number,
  code: string,
  dataDir: string,
  before: ReturnType<typeof snapshot>,
) {
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`not JSON (${res.status}): ${text.slice(0, 200)}`);
  }
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  expect(body.error.status).toBe(status);
  expect(body.error.message.length).toBeGreaterThan(5);
  expect(text).not.toContain("    at ");
  for (let i = 0; i < 50 && JSON.stringify(snapshot(dataDir)) !== JSON.stringify(before); i++) await Bun.sleep(20);
  expect(snapshot(dataDir)).toEqual(before);
  return body;
}

const onS3 = () => process.env.IMGD_TEST_STORAGE === "s3";

/**
 * What a test server's store holds under one place (`blobs`, `variants`, `downloads`, …), as
 * paths like `/blobs/ab/cd/<hash>`: files of its data dir, or objects under its S3 prefix.
 */
export function storedFiles(dataDir: string, place: string): string[] {
  return onS3()
    ? s3ObjectFiles(basename(dataDir)).filter((f) => f.startsWith(`/${place}/`))
    : files(dataDir, join(dataDir, place));
}

const blobPath = (hash: string) => `/blobs/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`;

/** Whether the store holds the original with this hash. */
export function blobExists(dataDir: string, hash: string): boolean {
  return storedFiles(dataDir, "blobs").includes(blobPath(hash));
}

/** Takes an original away behind the server's back (a lost file, a lost object). */
export async function loseBlob(dataDir: string, hash: string): Promise<void> {
  if (!onS3()) return unlink(join(dataDir, blobPath(hash)));
  const { env } = await sharedS3();
  const s3 = new AwsClient({
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
    region: env.AWS_REGION,
    service: "s3",
  });
  const res = await s3.fetch(`${env.AWS_ENDPOINT_URL}/${TEST_BUCKET}/${basename(dataDir)}${blobPath(hash)}`, {
    method: "DELETE",
  });
  if (!res.ok) throw new Error(`S3 DELETE: ${res.status}`);
}
