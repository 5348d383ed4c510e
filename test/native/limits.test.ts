import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decode, makeImage } from "../helpers/images.ts";
import { type TestServer, form, startServer } from "../helpers/server.ts";
import { query } from "../helpers/store.ts";

const CAP = 60_000;
let s: TestServer;
beforeAll(async () => {
  s = await startServer({ env: { IMGD_VARIANT_CACHE_BYTES: String(CAP), IMGD_QUEUE_LIMIT: "1", IMGD_WORKERS: "1" } });
  const res = await s.api("/api/v1/images", {
    method: "POST",
    body: form({ file: { bytes: await makeImage(1200, 900, "png"), filename: "src.png" } }),
  });
  expect(res.status).toBe(201);
});
afterAll(() => s.stop());

const cacheBytes = () => Number(query(s.dataDir, "select coalesce(sum(size), 0) as n from variants")[0].n);

describe("variant cache", () => {
  test("stays under its size cap, evicting the least recently used", async () => {
    const widths = [300, 310, 320, 330, 340, 350, 360, 370];
    let produced = 0;
    for (const w of widths) {
      const res = await fetch(`${s.url}/i/admin/src.jpg?w=${w}&q=95`);
      expect(res.status).toBe(200);
      const bytes = new Uint8Array(await res.arrayBuffer());
      produced += bytes.length;
      expect((await decode(bytes)).width).toBe(w);
      expect(res.headers.get("x-cache")).toBe("MISS");
    }
    expect(produced).toBeGreaterThan(CAP);
    for (let i = 0; i < 50 && cacheBytes() > CAP; i++) await Bun.sleep(20);
    expect(cacheBytes()).toBeLessThanOrEqual(CAP);
    expect(cacheBytes()).toBeGreaterThan(0);
    // The newest is still cached; the oldest was evicted and is made again.
    expect((await fetch(`${s.url}/i/admin/src.jpg?w=370&q=95`)).headers.get("x-cache")).toBe("HIT");
    expect((await fetch(`${s.url}/i/admin/src.jpg?w=300&q=95`)).headers.get("x-cache")).toBe("MISS");
  });
});

describe("worker pool", () => {
  test("a full queue answers 503 with Retry-After, never waits unbounded; the rest succeed", async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => fetch(`${s.url}/i/admin/src.webp?w=${1000 + i}&q=90`)),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((x) => x === 503).length).toBeGreaterThan(0);
    expect(statuses.every((x) => x === 200 || x === 503)).toBe(true);
    for (const r of results) {
      if (r.status === 503) {
        expect(r.headers.get("retry-after")).toMatch(/^\d+$/);
        expect(((await r.json()) as any).error.code).toBe("SERVICE_UNAVAILABLE");
      } else {
        expect((await decode(new Uint8Array(await r.arrayBuffer()))).format).toBe("webp");
      }
    }
    const after = await fetch(`${s.url}/i/admin/src.webp?w=1001&q=90`);
    expect(after.status).toBe(200);
  });
});
