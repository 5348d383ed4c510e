import { Database } from "bun:sqlite";
import { expect } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

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

export function snapshot(dataDir: string) {
  const db = new Database(join(dataDir, "imgd.sqlite"), { readonly: true });
  try {
    const rows = Object.fromEntries(
      ["images", "image_paths", "image_tags", "blobs", "users"].map((t) => [
        t,
        db.query(`select * from ${t} order by 1, 2`).all(),
      ]),
    );
    // Use counts change with every request; which keys exist must not.
    rows.api_keys = db.query("select id, user_id, key_hash, scopes, expires_at from api_keys order by id").all();
    return { rows, files: ["blobs", "tmp", "trash"].flatMap((d) => files(dataDir, join(dataDir, d))) };
  } finally {
    db.close();
  }
}

export function query<T = any>(dataDir: string, sql: string, ...params: any[]): T[] {
  const db = new Database(join(dataDir, "imgd.sqlite"), { readonly: true });
  try {
    return db.query(sql).all(...params) as T[];
  } finally {
    db.close();
  }
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
