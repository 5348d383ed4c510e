import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { parseS3Url, S3Client } from "../../src/store/s3/index.ts";
import { decode, makeImage } from "../helpers/images.ts";
import { type S3TestServer, startS3, TEST_BUCKET } from "../helpers/s3.ts";
import { form, imgdCommand, startServer, type TestServer } from "../helpers/server.ts";

// A server on S3 storage with the local disk cache in front: originals and variants land in
// the bucket, a cached variant is served from this node's disk, a lost original is a 404 (as a
// missing file is), and a delete leaves nothing in the bucket.

let s3: S3TestServer;
let s: TestServer;
let client: S3Client;
const prefix = `srv-${Date.now().toString(36)}`;

beforeAll(async () => {
  s3 = await startS3();
  client = new S3Client(parseS3Url(`s3://${TEST_BUCKET}/${prefix}`, s3.env));
  s = await startServer({
    env: {
      ...s3.env,
      IMGD_STORAGE_URL: `s3://${TEST_BUCKET}/${prefix}`,
      IMGD_LOCAL_CACHE_BYTES: String(1 << 20),
      // Every answer from the store, not from memory.
      IMGD_MEMORY_CACHE_BYTES: "0",
    },
  });
});

afterAll(async () => {
  await s.stop();
  await s3.stop();
});

async function objects(under: string) {
  const out: string[] = [];
  for await (const o of client.list(`${prefix}/${under}`)) out.push(o.key.slice(prefix.length + 1));
  return out.sort();
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

test("/health and /ready name S3 storage", async () => {
  const health = (await (await s.api("/health", { key: null })).json()) as any;
  expect(JSON.stringify(health)).toContain("s3");
  const ready = await s.api("/ready", { key: null });
  expect(ready.status).toBe(200);
  expect(((await ready.json()) as any).storage).toMatchObject({ kind: "s3", ok: true });
});

test("upload, variants from the bucket and from the local disk, a lost original, delete", async () => {
  const png = await makeImage(200, 100, "png");
  const up = await s.api("/api/v1/images", {
    method: "POST",
    body: form({ file: { bytes: png, filename: "s3.png" } }),
  });
  expect(up.status).toBe(201);
  const hash = sha(png);
  expect(await objects("blobs/")).toEqual([`blobs/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`]);
  expect(await objects("tmp/")).toEqual([]);

  const original = await fetch(`${s.url}/i/admin/s3.png`);
  expect(original.headers.get("x-cache")).toBe("ORIGINAL");
  expect(sha(new Uint8Array(await original.arrayBuffer()))).toBe(hash);

  const url = `${s.url}/i/admin/s3.webp?w=100`;
  const first = await fetch(url);
  expect(first.headers.get("x-cache")).toBe("MISS");
  const bytes = new Uint8Array(await first.arrayBuffer());
  const d = await decode(bytes);
  expect([d.format, d.width, d.height]).toEqual(["webp", 100, 50]);
  const variants = await objects("variants/");
  expect(variants.length).toBe(1);

  // The variant's object goes from the bucket: this node still has it on its disk.
  await client.delete(`${prefix}/${variants[0]}`);
  const local = await fetch(url);
  expect(local.headers.get("x-cache")).toBe("HIT");
  expect(new Uint8Array(await local.arrayBuffer())).toEqual(bytes);

  // The original's object is lost: a new variant of it is a 404, not a 500.
  await client.delete(`${prefix}/blobs/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`);
  const lost = await fetch(`${s.url}/i/admin/s3.webp?w=60`);
  expect(lost.status).toBe(404);
  await lost.arrayBuffer();

  // Put it back and delete the image: nothing stays in the bucket, trash included.
  await client.put(`${prefix}/blobs/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`, png);
  const list = (await (await s.api("/api/v1/images")).json()) as any;
  const del = await s.api(`/api/v1/images/${list.images[0].id}`, { method: "DELETE" });
  expect(del.status).toBeLessThan(300);
  expect(await objects("blobs/")).toEqual([]);
  expect(await objects("trash/")).toEqual([]);
  expect(await objects("variants/")).toEqual([]);
  expect((await fetch(url)).status).toBe(404);
});

test("/ready fails while the bucket does not answer", async () => {
  await s3.stop();
  const ready = await s.api("/ready", { key: null });
  expect(ready.status).toBe(503);
  expect(((await ready.json()) as any).storage).toMatchObject({ kind: "s3", ok: false });
  expect((await s.api("/health", { key: null })).status).toBe(200);
});

test("backup and doctor say they need the blobs in the data directory, and what to use instead", () => {
  for (const command of ["doctor", "backup"]) {
    const p = Bun.spawnSync([...imgdCommand(), command, ...(command === "backup" ? [join(s.dataDir, "b")] : [])], {
      env: { ...process.env, IMGD_DATA_DIR: s.dataDir, IMGD_STORAGE_URL: `s3://${TEST_BUCKET}/${prefix}` },
    });
    expect(p.exitCode).toBe(1);
    expect(p.stderr.toString()).toContain("IMGD_STORAGE_URL says this instance keeps them in S3");
    expect(p.stderr.toString()).toContain("imgd migrate");
  }
});
