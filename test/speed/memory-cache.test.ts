import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { decode, makeImage } from "../helpers/images.ts";
import { form, startServer, type TestServer } from "../helpers/server.ts";

// Hot variants are answered from memory (IMGD_MEMORY_CACHE_BYTES). The memory copy must be the
// disk variant exactly: same bytes, same headers, same 304s, and gone when the disk one goes.

let s: TestServer;
beforeAll(async () => {
  // A disk cache small enough that a few 300 px variants push the oldest out.
  s = await startServer({ env: { IMGD_VARIANT_CACHE_BYTES: "30000" } });
});
afterAll(() => s.stop()); // the last test restarts the server on the same data dir

async function upload(bytes: Uint8Array, filename: string) {
  const res = await s.api("/api/v1/images", {
    method: "POST",
    body: form({ file: { bytes, filename } }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string };
}
async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${s.url}/i/admin/${path}`, { headers });
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}
/** The variant's file in the disk cache, by its key (the ETag). */
function diskFile(dataDir: string, etag: string) {
  const key = etag.replace(/"/g, "");
  return join(dataDir, "variants", key.slice(0, 2), key.slice(2, 4), key);
}
const headersOf = (res: Response) => ({
  etag: res.headers.get("etag"),
  type: res.headers.get("content-type"),
  length: res.headers.get("content-length"),
  cache: res.headers.get("cache-control"),
  xcache: res.headers.get("x-cache"),
});

describe("memory cache of hot variants", () => {
  test("hits from memory are the disk variant's bytes, with the same headers and 304s", async () => {
    await upload(await makeImage(640, 480, "jpg"), "hot.jpg");
    const miss = await get("hot.webp?w=300");
    expect(miss.res.status).toBe(200);
    expect(miss.res.headers.get("x-cache")).toBe("MISS");
    const etag = miss.res.headers.get("etag")!;
    const disk = new Uint8Array(await readFile(diskFile(s.dataDir, etag)));
    expect(Buffer.compare(miss.bytes, disk)).toBe(0);

    // The first hit goes through the router, later ones through the hot path: all from memory.
    for (let i = 0; i < 3; i++) {
      const hit = await get("hot.webp?w=300");
      expect(headersOf(hit.res)).toEqual({
        etag,
        type: "image/webp",
        length: String(disk.length),
        cache: "public, max-age=31536000, immutable",
        xcache: "HIT",
      });
      expect(Buffer.compare(hit.bytes, disk)).toBe(0);
      expect(await decode(hit.bytes)).toMatchObject({
        format: "webp",
        width: 300,
        height: 225,
      });
    }
    const nm = await get("hot.webp?w=300", { "if-none-match": etag });
    expect(nm.res.status).toBe(304);
    expect(nm.res.headers.get("etag")).toBe(etag);
    expect(nm.bytes.length).toBe(0);
    const head = await fetch(`${s.url}/i/admin/hot.webp?w=300`, {
      method: "HEAD",
    });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(disk.length));
  });

  test("a variant evicted from disk is not served from memory", async () => {
    await upload(await makeImage(1200, 900, "jpg"), "evict.jpg");
    const first = await get("evict.webp?w=400");
    expect(first.res.headers.get("x-cache")).toBe("MISS");
    expect((await get("evict.webp?w=400")).res.headers.get("x-cache")).toBe("HIT");
    // Other variants fill the small disk cache: the first one is the least recently used.
    const etag = first.res.headers.get("etag")!;
    const onDisk = () =>
      readFile(diskFile(s.dataDir, etag)).then(
        () => true,
        () => false,
      );
    for (let w = 401; w < 700 && (await onDisk()); w++) {
      expect((await get(`evict.webp?w=${w}`)).res.status).toBe(200);
      await Bun.sleep(10); // eviction runs in the background
    }
    expect(await onDisk()).toBe(false);
    const again = await get("evict.webp?w=400");
    expect(again.res.status).toBe(200);
    expect(again.res.headers.get("x-cache")).toBe("MISS");
  });

  test("a deleted image and an image made private are not served from memory", async () => {
    const gone = await upload(await makeImage(300, 200, "jpg"), "gone.jpg");
    const priv = await upload(await makeImage(300, 200, "png"), "priv.png");
    for (const p of ["gone.webp?w=100", "priv.webp?w=100"]) {
      expect((await get(p)).res.status).toBe(200);
      expect((await get(p)).res.headers.get("x-cache")).toBe("HIT");
    }
    expect((await s.api(`/api/v1/images/${gone.id}`, { method: "DELETE" })).status).toBeLessThan(300);
    expect((await get("gone.webp?w=100")).res.status).toBe(404);
    const vis = await s.api(`/api/v1/images/${priv.id}/visibility`, {
      method: "PATCH",
      body: JSON.stringify({ visibility: "private" }),
    });
    expect(vis.status).toBe(200);
    expect((await get("priv.webp?w=100")).res.status).toBe(403);
  });

  test("the same answers as a server without a memory cache, on the same data", async () => {
    await upload(await makeImage(500, 400, "png"), "both.png");
    const paths = ["both.webp?w=200", "both.jpg?w=150", "both.avif?w=64"];
    const withMemory: { h: ReturnType<typeof headersOf>; b: Uint8Array }[] = [];
    for (const p of paths) {
      await get(p); // made, and kept in memory
      const r = await get(p);
      expect(r.res.headers.get("x-cache")).toBe("HIT");
      withMemory.push({ h: headersOf(r.res), b: r.bytes });
    }
    const dataDir = s.dataDir;
    await s.stop({ keepData: true });
    s = await startServer({
      dataDir,
      env: { IMGD_VARIANT_CACHE_BYTES: "30000", IMGD_MEMORY_CACHE_BYTES: "0" },
    });
    let i = 0;
    for (const p of paths) {
      const r = await get(p);
      expect(headersOf(r.res)).toEqual(withMemory[i]!.h);
      expect(Buffer.compare(r.bytes, withMemory[i]!.b)).toBe(0);
      i++;
    }
  });
});
