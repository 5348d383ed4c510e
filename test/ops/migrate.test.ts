import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomUUID } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { parseS3Url, S3Client } from "../../src/store/s3/index.ts";
import { decode, makeImage } from "../helpers/images.ts";
import { admin, createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { type S3TestServer, startS3, TEST_BUCKET } from "../helpers/s3.ts";
import { form, imgdCommand, startServer } from "../helpers/server.ts";

// imgd migrate moves a populated SQLite + files instance to another database (SQLite, and
// PostgreSQL where one runs) and S3; everything the instance holds comes out equal, a second
// run copies nothing, and a blob damaged on disk is caught on arrival.

/** What must come out equal, compared by content (variant cache, windows and leases are not moved). */
const TABLES = [
  "users",
  "api_keys",
  "blobs",
  "images",
  "image_paths",
  "image_tags",
  "presets",
  "usage_counters",
  "usage_hourly",
  "settings",
];

let s3: S3TestServer;
let source: string;
let postgres = false;
/** The source's admin key: the moved instance knows it too. */
let adminKey = "";

beforeAll(async () => {
  s3 = await startS3();
  postgres = await admin("select 1").then(
    () => true,
    () => false,
  );
  // A populated instance: two images (one of them uploaded twice: a second path), tags, a preset and its
  // use, a second key, variants and the counters all of that leaves.
  source = await mkdtemp(join(tmpdir(), "imgd-migrate-src-"));
  const s = await startServer({ dataDir: source });
  adminKey = s.adminKey;
  try {
    const up = async (bytes: Uint8Array, name: string, extra: Record<string, string> = {}) => {
      const r = await s.api("/api/v1/images", {
        method: "POST",
        body: form({ file: { bytes, filename: name }, ...extra }),
      });
      expect(r.status).toBe(201);
      return (await r.json()) as { url: string };
    };
    const red = await makeImage(120, 80, "png");
    const a = await up(red, "red.png", { tags: "warm,test" });
    await up(red, "again.png");
    await up(await makeImage(64, 64, "jpg"), "sq.jpg", { path: "albums/sq.jpg" });
    const preset = await s.api("/api/v1/settings/presets", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "thumb", params: { w: 32, h: 32, fit: "cover" } }),
    });
    expect(preset.status).toBe(201);
    expect((await fetch(`${a.url.replace(/\.png$/, ".webp")}?p:thumb`)).status).toBe(200);
    expect((await fetch(`${a.url}?w=50`)).status).toBe(200);
    const key = await s.api("/api/v1/settings/api-keys", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "ci", scopes: ["read"] }),
    });
    expect(key.status).toBe(201);
  } finally {
    expect(await s.stop({ keepData: true })).toBe(0);
  }
});

afterAll(async () => {
  await s3.stop();
  await rm(source, { recursive: true, force: true });
});

function runMigrate(args: string[], dataDir = source) {
  const p = Bun.spawnSync([...imgdCommand(), "migrate", "--data-dir", dataDir, ...args], {
    env: { ...process.env, ...s3.env },
  });
  return { code: p.exitCode, out: p.stdout.toString() + p.stderr.toString() };
}

function sqliteRows(file: string) {
  const db = new Database(file, { readonly: true });
  try {
    return Object.fromEntries(TABLES.map((t) => [t, db.query(`select * from ${t}`).all().map(canon).sort()]));
  } finally {
    db.close();
  }
}

async function postgresRows(url: string) {
  // int8 and numeric as numbers, as imgd reads them (and SQLite hands them out).
  const types = {
    getTypeParser: (oid: number, format?: "text" | "binary") =>
      oid === 20 || oid === 1700 ? Number : pg.types.getTypeParser(oid, format as "text"),
  };
  const c = new pg.Client({ connectionString: url, types: types as pg.CustomTypesConfig });
  await c.connect();
  try {
    const out: Record<string, string[]> = {};
    for (const t of TABLES) out[t] = (await c.query(`select * from ${t}`)).rows.map(canon).sort();
    return out;
  } finally {
    await c.end();
  }
}

/** A row as text, its columns in order. */
function canon(row: unknown): string {
  const r = row as Record<string, unknown>;
  return JSON.stringify(
    Object.keys(r)
      .sort()
      .map((k) => [k, r[k]]),
  );
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Every blob of the source, read back from the bucket: same bytes. */
async function expectBlobsIn(prefix: string) {
  const client = new S3Client(parseS3Url(`s3://${TEST_BUCKET}/${prefix}`, s3.env));
  const hashes = (
    new Database(join(source, "imgd.sqlite"), { readonly: true }).query("select hash from blobs").all() as {
      hash: string;
    }[]
  ).map((r) => r.hash);
  expect(hashes.length).toBe(2);
  for (const h of hashes) {
    const res = await client.get(`${prefix}/blobs/${h.slice(0, 2)}/${h.slice(2, 4)}/${h}`);
    expect(res).not.toBeNull();
    const bytes = new Uint8Array(await res!.arrayBuffer());
    expect(sha(bytes)).toBe(h);
    expect(bytes).toEqual(new Uint8Array(readFileSync(join(source, "blobs", h.slice(0, 2), h.slice(2, 4), h))));
  }
}

/** The moved instance serves: the original and a new variant, decoded. */
async function expectServes(env: Record<string, string>, dataDir: string) {
  const s = await startServer({ dataDir, env: { ...s3.env, ...env } });
  try {
    const list = (await (await s.api("/api/v1/images?limit=10", { key: adminKey })).json()) as any;
    expect(list.images.length).toBe(2);
    const res = await fetch(`${s.url}/i/admin/red.webp?w=60`);
    expect(res.status).toBe(200);
    const d = await decode(new Uint8Array(await res.arrayBuffer()));
    expect([d.format, d.width, d.height]).toEqual(["webp", 60, 40]);
  } finally {
    await s.stop({ keepData: true });
  }
}

describe("imgd migrate", () => {
  test("SQLite + files -> SQLite + S3: everything equal, the target serves, a second run copies nothing", async () => {
    const target = await mkdtemp(join(tmpdir(), "imgd-migrate-dst-"));
    const prefix = `mig-${randomUUID()}`;
    try {
      const args = ["--to-database", join(target, "imgd.sqlite"), "--to-storage", `s3://${TEST_BUCKET}/${prefix}`];
      const first = runMigrate(args);
      expect(first.out).toContain("2 blobs copied (0 there already)");
      expect(first.code).toBe(0);
      expect(sqliteRows(join(target, "imgd.sqlite"))).toEqual(sqliteRows(join(source, "imgd.sqlite")));
      await expectBlobsIn(prefix);
      const again = runMigrate(args);
      expect(again.code).toBe(0);
      expect(again.out).toContain("0 blobs copied (2 there already), 0 rows copied, 0 removed");
      await expectServes({ IMGD_STORAGE_URL: `s3://${TEST_BUCKET}/${prefix}` }, target);
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  });

  test("SQLite + files -> PostgreSQL + S3 and back to SQLite + files", async () => {
    if (!postgres) {
      console.warn("skipped: no PostgreSQL at IMGD_TEST_POSTGRES_URL");
      return;
    }
    const db: TestDatabase = await createTestDatabase();
    const prefix = `mig-${randomUUID()}`;
    const back = await mkdtemp(join(tmpdir(), "imgd-migrate-back-"));
    try {
      const args = ["--to-database", db.url, "--to-storage", `s3://${TEST_BUCKET}/${prefix}`];
      const first = runMigrate(args);
      expect(first.code).toBe(0);
      expect(await postgresRows(db.url)).toEqual(sqliteRows(join(source, "imgd.sqlite")));
      await expectBlobsIn(prefix);
      const again = runMigrate(args);
      expect(again.out).toContain("0 blobs copied (2 there already), 0 rows copied, 0 removed");
      await expectServes({ IMGD_DATABASE_URL: db.url, IMGD_STORAGE_URL: `s3://${TEST_BUCKET}/${prefix}` }, back);

      // The other way: PostgreSQL + S3 to a laptop's SQLite + files.
      const laptop = join(back, "laptop");
      const home = Bun.spawnSync(
        [...imgdCommand(), "migrate", "--to-database", join(laptop, "imgd.sqlite"), "--to-storage", laptop],
        {
          env: {
            ...process.env,
            ...s3.env,
            IMGD_DATABASE_URL: db.url,
            IMGD_STORAGE_URL: `s3://${TEST_BUCKET}/${prefix}`,
          },
        },
      );
      expect(home.stderr.toString()).toContain("2 blobs copied");
      expect(home.exitCode).toBe(0);
      const rows = sqliteRows(join(laptop, "imgd.sqlite"));
      const want = sqliteRows(join(source, "imgd.sqlite"));
      // Usage counters moved on while the moved copy served above; everything else is as it was.
      for (const t of TABLES.filter((t) => !t.startsWith("usage") && t !== "api_keys"))
        expect(rows[t]).toEqual(want[t]);
      for (const h of readdirSync(join(source, "blobs"), { recursive: true }).filter((n) =>
        /[0-9a-f]{64}$/.test(String(n)),
      ))
        expect(readFileSync(join(laptop, "blobs", String(h)))).toEqual(readFileSync(join(source, "blobs", String(h))));
    } finally {
      await db.drop();
      await rm(back, { recursive: true, force: true });
    }
  });

  test("a blob damaged on disk is caught on arrival: not copied, nor the rows naming it; exit 1", async () => {
    const damaged = await mkdtemp(join(tmpdir(), "imgd-migrate-bad-"));
    const target = await mkdtemp(join(tmpdir(), "imgd-migrate-dst-"));
    try {
      // A copy of the source whose JPEG blob lost a byte to bit rot.
      Bun.spawnSync(["cp", "-a", `${source}/.`, damaged]);
      const { hash } = new Database(join(damaged, "imgd.sqlite"), { readonly: true })
        .query("select hash from blobs where format = 'jpeg'")
        .get() as { hash: string };
      const file = join(damaged, "blobs", hash.slice(0, 2), hash.slice(2, 4), hash);
      const bytes = readFileSync(file);
      bytes[100] ^= 0xff;
      writeFileSync(file, bytes);
      const prefix = `mig-${randomUUID()}`;
      const r = runMigrate(
        ["--to-database", join(target, "imgd.sqlite"), "--to-storage", `s3://${TEST_BUCKET}/${prefix}`],
        damaged,
      );
      expect(r.code).toBe(1);
      expect(r.out).toContain(`blob ${hash} is damaged`);
      const db = new Database(join(target, "imgd.sqlite"), { readonly: true });
      try {
        expect(db.query("select count(*) as n from blobs where hash = ?").get(hash)).toEqual({ n: 0 });
        expect(db.query("select count(*) as n from images where blob_hash = ?").get(hash)).toEqual({ n: 0 });
        expect(db.query("select count(*) as n from images").get()).toEqual({ n: 1 });
      } finally {
        db.close();
      }
      const client = new S3Client(parseS3Url(`s3://${TEST_BUCKET}/${prefix}`, s3.env));
      expect(await client.head(`${prefix}/blobs/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`)).toBeNull();
    } finally {
      await rm(damaged, { recursive: true, force: true });
      await rm(target, { recursive: true, force: true });
    }
  });
});
