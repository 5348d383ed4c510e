import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeImage } from "../helpers/images.ts";
import { form, imgdCommand, startServer } from "../helpers/server.ts";

// imgd doctor on a healthy data dir, then on copies of it broken in each way it detects: the
// report names the problem, --repair fixes what loses nothing, and the exit codes say which.

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
let healthy: string;
let images: { id: string; hash: string }[] = [];
const tmp: string[] = [];

async function imgd(args: string[]) {
  const cmd = imgdCommand();
  const p = Bun.spawn([...cmd, ...args], { stdout: "pipe", stderr: "pipe", env: process.env });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}
const doctor = (dir: string, ...more: string[]) => imgd(["doctor", "--data-dir", dir, "--grace", "0", ...more]);
const blobPath = (dir: string, h: string) => join(dir, "blobs", h.slice(0, 2), h.slice(2, 4), h);
const variantFiles = (dir: string) => {
  const root = join(dir, "variants");
  return readdirSync(root, { recursive: true })
    .map(String)
    .filter((f) => /[0-9a-f]{64}$/.test(f))
    .map((f) => join(root, f));
};
const sql = (dir: string, q: string, ...params: any[]) => {
  const db = new Database(join(dir, "imgd.sqlite"));
  try {
    return db.query(q).all(...params) as any[];
  } finally {
    db.close();
  }
};

beforeAll(async () => {
  const s = await startServer();
  try {
    for (let i = 0; i < 4; i++) {
      const res = await s.api("/api/v1/images", {
        method: "POST",
        body: form({ file: { bytes: await makeImage(30 + i, 20, "png"), filename: `d${i}.png` } }),
      });
      const b = (await res.json()) as any;
      images.push({ id: b.id, hash: b.hash });
      expect((await fetch(`${s.url}/i/admin/d${i}.webp?w=10`)).status).toBe(200);
    }
    // On a running server (default grace): healthy.
    const live = await imgd(["doctor", "--data-dir", s.dataDir]);
    expect(live.out).toContain("healthy");
    expect(live.code).toBe(0);
  } finally {
    await s.stop({ keepData: true });
  }
  healthy = s.dataDir;
  tmp.push(healthy);
});
afterAll(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});

async function copy(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "imgd-doctor-"));
  tmp.push(d);
  cpSync(healthy, d, { recursive: true });
  return d;
}

/** Breaks a copy, checks doctor sees it, repairs, and checks the result. */
async function brokenCase(opts: {
  break: (dir: string) => void;
  expect: string | RegExp;
  fixable: boolean;
  after?: (dir: string) => void;
}) {
  const dir = await copy();
  opts.break(dir);
  const found = await doctor(dir);
  expect(found.code).toBe(1);
  expect(found.out).toMatch(opts.expect);
  expect(found.out).toContain(opts.fixable ? "fixable with --repair" : "not fixable here");
  const fixed = await doctor(dir, "--repair");
  expect(fixed.code).toBe(opts.fixable ? 0 : 1);
  if (opts.fixable) expect(fixed.out).toContain("fixed:");
  const again = await doctor(dir);
  expect(again.code).toBe(opts.fixable ? 0 : 1);
  if (opts.fixable) expect(again.out).toContain("healthy");
  opts.after?.(dir);
  return { found, fixed, again, dir };
}

describe("imgd doctor", () => {
  test("a healthy data dir: every check listed, exit 0; --help is complete", async () => {
    const r = await doctor(healthy);
    expect(r.code).toBe(0);
    for (const c of [
      "database integrity",
      "foreign keys",
      "migrations",
      "blob rows without files",
      "blob contents",
      "variant cache",
      "temp and trash leftovers",
      "secret.key",
    ])
      expect(r.out).toContain(`ok    ${c}`);
    expect(r.out).toMatch(/migrations: \d{3}_\w+ \(\d+ of \d+, up to date\)/);
    expect(r.out).toContain("every blob hashes to its name");
    const h = await imgd(["doctor", "--help"]);
    expect(h.code).toBe(0);
    expect(h.out).toContain("Usage: imgd doctor");
    expect(h.out).toContain("--repair");
    expect(h.out).toContain("Exit codes");
    expect((await imgd(["doctor", "--grace", "soon"])).code).toBe(2);
    const none = await doctor(join(healthy, "nope"));
    expect(none.code).toBe(1);
    expect(none.out).toContain("imgd.sqlite is missing");
  });

  test("an original that is gone: listed with its image and what to do, not fixable", async () => {
    const { fixed } = await brokenCase({
      break: (d) => rmSync(blobPath(d, images[0].hash)),
      expect: `image ${images[0].id} lost its original`,
      fixable: false,
    });
    expect(fixed.out).toContain("restore the file from a backup");
  });

  test("a blob row no image uses, without its file: the row is deleted", async () => {
    const ghost = "f".repeat(64);
    await brokenCase({
      break: (d) =>
        sql(
          d,
          "insert into blobs (hash, size, format, mime, width, height, created_at) values (?, 10, 'png', 'image/png', 1, 1, 0)",
          ghost,
        ),
      expect: `blob ${ghost} has a row but no file, and no image uses it`,
      fixable: true,
      after: (d) => expect(sql(d, "select hash from blobs where hash = ?", ghost)).toEqual([]),
    });
  });

  test("a blob left in the trash while its row lives: moved back", async () => {
    const h = images[1].hash;
    await brokenCase({
      break: (d) => renameSync(blobPath(d, h), join(d, "trash", h)),
      expect: `blob ${h} is in the trash but its row is still there`,
      fixable: true,
      after: (d) => expect(sha256(readFileSync(blobPath(d, h)))).toBe(h),
    });
  });

  test("a blob file nothing names: moved to lost+found, not deleted", async () => {
    const bytes = await makeImage(17, 13, "png");
    const h = sha256(bytes);
    await brokenCase({
      break: (d) => {
        mkdirSync(join(d, "blobs", h.slice(0, 2), h.slice(2, 4)), { recursive: true });
        writeFileSync(blobPath(d, h), bytes);
      },
      expect: "is not named by the database",
      fixable: true,
      after: (d) => {
        expect(existsSync(blobPath(d, h))).toBe(false);
        expect(sha256(readFileSync(join(d, "lost+found", h)))).toBe(h);
      },
    });
  });

  test("a blob whose bytes do not match its name: found by hashing (not by --quick), not fixable", async () => {
    const h = images[2].hash;
    const { dir } = await brokenCase({
      break: (d) => {
        const p = blobPath(d, h);
        const b = readFileSync(p);
        b[b.length >> 1] ^= 0x55;
        writeFileSync(p, b);
      },
      expect: `blob ${h} does not hash to its name (used by ${images[2].id})`,
      fixable: false,
    });
    expect((await doctor(dir, "--quick")).code).toBe(0);
    // A size that differs from the row is found even by --quick.
    writeFileSync(blobPath(dir, h), "short");
    const quick = await doctor(dir, "--quick");
    expect(quick.code).toBe(1);
    expect(quick.out).toContain(`blob ${h} is 5 bytes`);
  });

  test("variant cache: a row without its file, a file without its row, a variant of a deleted blob", async () => {
    await brokenCase({ break: (d) => rmSync(variantFiles(d)[0]), expect: "has a row but no file", fixable: true });
    const key = "a".repeat(64);
    await brokenCase({
      break: (d) => {
        mkdirSync(join(d, "variants", "aa", "aa"), { recursive: true });
        writeFileSync(join(d, "variants", "aa", "aa", key), "x");
      },
      expect: "is not in the variant index",
      fixable: true,
      after: (d) => expect(existsSync(join(d, "variants", "aa", "aa", key))).toBe(false),
    });
    const key2 = "b".repeat(64);
    await brokenCase({
      break: (d) => {
        sql(
          d,
          "insert into variants (key, blob_hash, size, mime, width, height, created_at, last_access_at) values (?, ?, 1, 'image/webp', 1, 1, 0, 0)",
          key2,
          "c".repeat(64),
        );
        mkdirSync(join(d, "variants", "bb", "bb"), { recursive: true });
        writeFileSync(join(d, "variants", "bb", "bb", key2), "x");
      },
      expect: `variant ${key2} belongs to blob ${"c".repeat(64)}, which is gone`,
      fixable: true,
      after: (d) => expect(sql(d, "select key from variants where key = ?", key2)).toEqual([]),
    });
  });

  test("temp and trash leftovers are deleted; young ones are left alone as work in progress", async () => {
    const { dir } = await brokenCase({
      break: (d) => {
        writeFileSync(join(d, "tmp", "0000.part"), "half an upload");
        writeFileSync(join(d, "trash", "e".repeat(64)), "deleted");
      },
      expect: /tmp\/0000\.part: an interrupted upload[\s\S]*a deleted blob not yet purged/,
      fixable: true,
      after: (d) => {
        expect(readdirSync(join(d, "tmp"))).toEqual([]);
        expect(readdirSync(join(d, "trash"))).toEqual([]);
      },
    });
    writeFileSync(join(dir, "tmp", "fresh.part"), "being written");
    const young = await imgd(["doctor", "--data-dir", dir, "--grace", "60"]);
    expect(young.code).toBe(0);
    expect(young.out).toContain("1 file(s) younger than 60 s left alone");
  });

  test("an image whose blob row is gone (foreign keys off): the row is made again from the image", async () => {
    const h = images[3].hash;
    await brokenCase({
      break: (d) => sql(d, "delete from blobs where hash = ?", h),
      expect: `image ${images[3].id} names blob ${h}, which has a file but no row`,
      fixable: true,
      after: (d) =>
        expect(sql(d, "select size from blobs where hash = ?", h)[0].size).toBe(statSync(blobPath(d, h)).size),
    });
  });

  test("a data dir from a newer imgd: doctor says so, and serve refuses to start with what to do", async () => {
    const { dir } = await brokenCase({
      break: (d) =>
        sql(d, "insert into kysely_migration (name, timestamp) values ('999_future', '2030-01-01T00:00:00.000Z')"),
      expect: "migration 999_future was applied by a newer imgd",
      fixable: false,
    });
    const serve = await imgd(["serve", "--data-dir", dir, "--port", "0", "--host", "127.0.0.1"]);
    expect(serve.code).toBe(1);
    expect(serve.err).toContain("this data directory was written by a newer imgd (database migration 999_future");
    expect(serve.err).toContain("run that newer imgd, or restore a backup");
  });

  test("a missing secret.key and a damaged database are reported, not fixable", async () => {
    await brokenCase({ break: (d) => rmSync(join(d, "secret.key")), expect: "secret.key is missing", fixable: false });
    // Scribble over the root page of an index: SQLite's integrity check finds it.
    await brokenCase({
      break: (d) => {
        const file = join(d, "imgd.sqlite");
        const db = new Database(file);
        db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
        const page = (db.query("PRAGMA page_size").get() as any).page_size as number;
        const root = (db.query("select rootpage from sqlite_master where name = 'images_user_created'").get() as any)
          .rootpage as number;
        db.close();
        const bytes = readFileSync(file);
        for (let i = 8; i < 200; i++) bytes[(root - 1) * page + i] = 0x7f;
        writeFileSync(file, bytes);
      },
      expect: /FAIL {2}database integrity/,
      fixable: false,
    });
  });
});
