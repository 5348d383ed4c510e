import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash, randomUUID } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalVariantStore } from "../../src/store/local-variant-store.ts";
import { openS3Storage, parseS3Url, S3Client, type S3Location } from "../../src/store/s3/index.ts";
import { type S3TestServer, startS3, TEST_BUCKET } from "../helpers/s3.ts";
import { storageContract } from "./contract.ts";

// The S3 driver against the storage contract, on s3rver; then what only S3 has: multipart
// uploads, their markers after a crash, the trash order, and the local disk cache in front.

let server: S3TestServer;
beforeAll(async () => {
  server = await startS3();
});
afterAll(() => server.stop());

storageContract("s3", async () => {
  const prefix = `t-${randomUUID()}`;
  const loc = parseS3Url(`s3://${TEST_BUCKET}/${prefix}`, server.env);
  const open = () => {
    const { blobs, variants, archives } = openS3Storage(loc, { sweepGraceMs: 0 });
    return { blobs, variants, archives };
  };
  const s3 = new S3Client(loc);
  const count = async (p: string) => {
    let n = 0;
    for await (const _ of s3.list(`${prefix}/${p}`)) n++;
    return n;
  };
  return {
    ...open(),
    reopen: async () => open(),
    leftovers: async () => (await count("tmp/")) + (await count("tmp-downloads/")),
    secrets: [prefix, server.endpoint, "S3RVER"],
    cleanup: async () => {
      for await (const o of s3.list(`${prefix}/`)) await s3.delete(o.key);
    },
  };
});

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function withPrefix(fn: (loc: S3Location, s3: S3Client, prefix: string) => Promise<void>) {
  const prefix = `x-${randomUUID()}`;
  const loc = parseS3Url(`s3://${TEST_BUCKET}/${prefix}`, server.env);
  const s3 = new S3Client(loc);
  try {
    await fn(loc, s3, prefix);
  } finally {
    for await (const o of s3.list(`${prefix}/`)) await s3.delete(o.key);
  }
}

async function keys(s3: S3Client, prefix: string) {
  const out: string[] = [];
  for await (const o of s3.list(prefix)) out.push(o.key.slice(prefix.length));
  return out;
}

test("an upload over 8 MiB goes up in parts: memory stays bounded and the blob is whole", async () => {
  await withPrefix(async (loc, s3, prefix) => {
    const { blobs } = openS3Storage(loc, { sweepGraceMs: 0 });
    const total = 72 << 20;
    const hasher = createHash("sha256");
    let peak = 0;
    let base = 0;
    let markerSeen = false;
    async function* source() {
      Bun.gc(true);
      base = process.memoryUsage().arrayBuffers;
      for (let i = 0; i < total / 65536; i++) {
        const chunk = new Uint8Array(65536).fill(i % 251);
        hasher.update(chunk);
        yield chunk;
        if (i % 128 === 0) {
          Bun.gc(true);
          peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
          if (i === 256) markerSeen = (await keys(s3, `${prefix}/tmp/`)).some((k) => k.endsWith(".upload"));
        }
      }
    }
    const staged = await blobs.stage(source(), Number.MAX_SAFE_INTEGER);
    expect(staged.hash).toBe(hasher.digest("hex"));
    expect(staged.size).toBe(total);
    // While it ran, the multipart upload was marked for the sweep; memory held about one part.
    expect(markerSeen).toBe(true);
    console.log(`72 MiB upload: peak extra ArrayBuffer memory ${(peak / 2 ** 20).toFixed(1)} MiB`);
    expect(peak).toBeLessThan(32 << 20);
    await staged.commit();
    expect(await keys(s3, `${prefix}/tmp/`)).toEqual([]);
    const o = (await blobs.open(staged.hash))!;
    expect(o.size).toBe(total);
    const back = createHash("sha256");
    const reader = o.stream().getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) back.update(r.value);
    expect(back.digest("hex")).toBe(staged.hash);
  });
});

test("a process killed mid multipart upload leaves a marker; the next start aborts it and keeps nothing", async () => {
  await withPrefix(async (loc, s3, prefix) => {
    const child = Bun.spawn(
      [process.execPath, join(import.meta.dir, "crash-child-s3.ts"), `s3://${TEST_BUCKET}/${prefix}`],
      {
        env: { ...process.env, ...server.env },
        stdout: "pipe",
        stderr: "inherit",
      },
    );
    const reader = child.stdout.getReader();
    let out = "";
    while (!out.includes("staging")) {
      const r = await reader.read();
      if (r.done) break;
      out += new TextDecoder().decode(r.value);
    }
    // Past the first part: the upload and its marker exist.
    for (let i = 0; i < 200 && (await keys(s3, `${prefix}/tmp/`)).length === 0; i++) await Bun.sleep(10);
    child.kill("SIGKILL");
    await child.exited;
    const left = await keys(s3, `${prefix}/tmp/`);
    expect(left.length).toBe(1);
    expect(left[0]).toEndWith(".upload");
    const { blobs } = openS3Storage(loc, { sweepGraceMs: 0 });
    expect((await blobs.sweep(async () => true)).removed).toBe(1);
    expect(await keys(s3, `${prefix}/`)).toEqual([]);
  });
});

test("delete order: trash copies before it deletes, so a crash at any step leaves the blob somewhere; the sweep puts back what a row uses", async () => {
  await withPrefix(async (loc, s3, prefix) => {
    const { blobs } = openS3Storage(loc, { sweepGraceMs: 0 });
    const data = new Uint8Array(50_000).fill(7);
    const staged = await blobs.stage(
      (async function* () {
        yield data;
      })(),
      1e6,
    );
    await staged.commit();
    const h = staged.hash;
    const blobKey = `${prefix}/blobs/${h.slice(0, 2)}/${h.slice(2, 4)}/${h}`;
    const trashKey = `${prefix}/trash/${h}`;
    // The states a crash can leave: mid-trash (both copies), after trash (trash only).
    for (const state of ["both", "trash"] as const) {
      await s3.copy(blobKey, trashKey);
      if (state === "trash") await s3.delete(blobKey);
      // The transaction that deleted the row rolled back (a crash before its commit): the row is there.
      const after = openS3Storage(loc, { sweepGraceMs: 0 });
      await after.blobs.sweep(async (x) => x === h);
      expect(await keys(s3, `${prefix}/trash/`)).toEqual([]);
      expect(sha(await after.blobs.read(h))).toBe(h);
    }
    // The transaction committed (the row is gone): the sweep finishes the delete.
    await blobs.trash(h);
    expect(await blobs.exists(h)).toBe(false);
    await openS3Storage(loc, { sweepGraceMs: 0 }).blobs.sweep(async () => false);
    expect(await keys(s3, `${prefix}/`)).toEqual([]);
    // A read of what is gone fails as a missing file does (delivery answers 404 on it).
    await expect(blobs.read(h)).rejects.toMatchObject({ code: "ENOENT" });
  });
});

test("the local disk cache in front of S3 stays under its cap and serves what it holds without S3", async () => {
  await withPrefix(async (loc, s3, prefix) => {
    const dir = await mkdtemp(join(tmpdir(), "imgd-s3-cache-"));
    try {
      const { variants } = openS3Storage(loc, { sweepGraceMs: 0 });
      const cap = 100_000;
      const cache = new LocalVariantStore(variants, dir, cap);
      await cache.init();
      const key = (n: number) => createHash("sha256").update(`v${n}`).digest("hex");
      const bytes = (n: number) => new Uint8Array(30_000).fill(n);
      const localBytes = () => readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
      for (let n = 0; n < 10; n++) {
        await cache.put(key(n), bytes(n));
        expect(cache.usage().bytes).toBeLessThanOrEqual(cap);
        expect(localBytes()).toBeLessThanOrEqual(cap);
      }
      expect(cache.usage().entries).toBe(3);
      // The newest are local: served even with the S3 object gone.
      await s3.delete(`${prefix}/variants/${key(9).slice(0, 2)}/${key(9).slice(2, 4)}/${key(9)}`);
      const local = (await cache.open(key(9)))!;
      expect(new Uint8Array(await new Response(local.body()).arrayBuffer())).toEqual(bytes(9));
      // An evicted one streams from S3 and is kept on the way through, still under the cap.
      const remote = (await cache.open(key(0)))!;
      expect(new Uint8Array(await new Response(remote.body()).arrayBuffer())).toEqual(bytes(0));
      expect(readdirSync(dir)).toContain(key(0));
      expect(localBytes()).toBeLessThanOrEqual(cap);
      // The same object read again (the delivery's hot path keeps it) takes the local copy now:
      // it reads even with the S3 object gone.
      await s3.delete(`${prefix}/variants/${key(0).slice(0, 2)}/${key(0).slice(2, 4)}/${key(0)}`);
      expect(new Uint8Array(await new Response(remote.body()).arrayBuffer())).toEqual(bytes(0));
      expect(new Uint8Array(await new Response(remote.stream()).arrayBuffer())).toEqual(bytes(0));
      // Deleting goes to both.
      await cache.delete([key(9)]);
      expect(await cache.open(key(9))).toBeNull();
      expect(readdirSync(dir)).not.toContain(key(9));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
