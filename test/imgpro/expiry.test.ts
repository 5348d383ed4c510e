import { describe, expect, test } from "bun:test";
import { rm } from "node:fs/promises";
import { decode, makeImage } from "../helpers/images.ts";
import { form, startServer } from "../helpers/server.ts";
import { blobExists, query } from "../helpers/store.ts";

// TTL expiry with a controlled clock (a second server on the same data directory, its clock
// shifted), and anonymous uploads with their per-IP limits.

describe("ttl", () => {
  test("an expired item is gone from every route at once; the sweeper then removes rows, variants and blob", async () => {
    const a = await startServer();
    const dataDir = a.dataDir;
    const jpeg = await makeImage(90, 60, "jpg");
    const res = await a.api("/v1/upload", {
      method: "POST",
      body: form({ file: { bytes: jpeg, filename: "t.jpg" }, ttl: "5m", namespace: "ttl", tags: "t" }),
    });
    const item = (await res.json()) as any;
    const keep = (await (
      await a.api("/v1/upload", {
        method: "POST",
        body: form({ file: { bytes: await makeImage(91, 60, "jpg"), filename: "k.jpg" } }),
      })
    ).json()) as any;
    const hash = query(dataDir, "select blob_hash from images where id = ?", item.id)[0].blob_hash as string;
    // Servers restarted on this data dir print no key: use the first one's.
    const key = a.adminKey;
    await a.stop({ keepData: true });
    try {
      // B's clock reaches the expiry some seconds after it starts (room for a slow start).
      const expiresMs = item.expires_at * 1000 + 999;
      const offset = expiresMs - (Date.now() + 20_000);
      const b = await startServer({ dataDir, env: { IMGD_TEST_CLOCK_OFFSET_MS: String(offset) } });
      const webp = `${item.src.replace(/\.jpeg$/, ".webp")}?w=30`.replace(/^http:\/\/[^/]+/, b.url);
      const src = item.src.replace(/^http:\/\/[^/]+/, b.url);
      const r1 = await fetch(webp);
      expect(r1.status).toBe(200);
      expect((await decode(new Uint8Array(await r1.arrayBuffer()))).width).toBe(30);
      expect((await fetch(webp)).status).toBe(200); // now remembered by the hot path
      await Bun.sleep(Math.max(0, expiresMs - (Date.now() + offset) - 500));
      for (let i = 0; i < 40 && (await fetch(src)).status === 200; i++) await Bun.sleep(100);
      expect((await fetch(src)).status).toBe(404);
      expect((await fetch(webp)).status).toBe(404);
      expect((await fetch(`${b.url}/p/${item.id}`)).status).toBe(404);
      expect((await b.api(`/v1/media/${item.id}`, { key })).status).toBe(404);
      expect((await b.api(`/api/v1/images/${item.id}`, { key })).status).toBe(404);
      expect(((await (await b.api("/v1/media?namespace=ttl", { key })).json()) as any).data).toEqual([]);
      expect(((await (await b.api("/v1/namespaces", { key })).json()) as any).data).toEqual([]);
      expect((await b.api(`/v1/media/${keep.id}`, { key })).status).toBe(200);
      await b.stop({ keepData: true });
      // C starts later still: its sweeper removes what expired, once, safely.
      const c = await startServer({
        dataDir,
        env: { IMGD_TEST_CLOCK_OFFSET_MS: String(3_600_000), IMGD_SWEEP_INTERVAL_MS: "200" },
      });
      // Rows go in one transaction; variants and the blob file right after it commits.
      const left = () =>
        query(dataDir, "select count(*) n from images where id = ?", item.id)[0].n +
        query(dataDir, "select count(*) n from variants where blob_hash = ?", hash)[0].n +
        (blobExists(dataDir, hash) ? 1 : 0);
      for (let i = 0; i < 50 && left() > 0; i++) await Bun.sleep(100);
      expect(query(dataDir, "select count(*) n from images where id = ?", item.id)[0].n).toBe(0);
      expect(query(dataDir, "select count(*) n from image_tags where image_id = ?", item.id)[0].n).toBe(0);
      expect(query(dataDir, "select count(*) n from variants where blob_hash = ?", hash)[0].n).toBe(0);
      expect(blobExists(dataDir, hash)).toBe(false);
      expect((await c.api(`/v1/media/${keep.id}`, { key })).status).toBe(200);
      await c.stop({ keepData: true });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("anonymous uploads", () => {
  test("30-day TTL, the upgrade hint, per-IP hour and day limits that survive a restart", async () => {
    // The day window is the UTC day: every server's clock reads 02:00 tomorrow (03:00 for the
    // one "an hour later"), so a run near midnight does not start a new day in between.
    const DAY = 86_400_000;
    const base = Math.floor(Date.now() / DAY) * DAY + DAY + 2 * 3_600_000 - Date.now();
    const env = {
      IMGD_TEST_CLOCK_OFFSET_MS: String(base),
      IMGD_ANONYMOUS_UPLOADS: "true",
      IMGD_ANONYMOUS_UPLOADS_PER_HOUR: "2",
      IMGD_ANONYMOUS_UPLOADS_PER_DAY: "3",
      IMGD_MAX_ANONYMOUS_UPLOAD_BYTES: "50000",
    };
    const s = await startServer({ env });
    const png = await makeImage(40, 30, "png");
    const up = (server = s, headers: Record<string, string> = {}) =>
      server.api("/v1/upload", {
        method: "POST",
        key: null,
        headers,
        body: form({ file: { bytes: png, filename: "anon.png" }, tags: "x", external_id: "ignored" }),
      });
    try {
      const r = await up();
      expect(r.status).toBe(201);
      const body = (await r.json()) as any;
      // The TTL runs from the request's arrival; the row is written after the decode, which on
      // a busy machine takes seconds.
      expect(body.expires_at - body.created_at).toBeWithin(30 * 86400 - 15, 30 * 86400 + 2);
      expect(body.upgrade).toMatchObject({ type: "register", label: "Create API Key" });
      expect(body.editable).toBeUndefined();
      expect(r.headers.get("x-monthly-uploads-used")).toBeNull();
      expect(await decode(new Uint8Array(await (await fetch(body.src)).arrayBuffer()))).toMatchObject({
        width: 40,
        height: 30,
      });
      // Over the anonymous size limit.
      const big = await s.api("/v1/upload", {
        method: "POST",
        key: null,
        body: form({ file: { bytes: new Uint8Array(60_000).fill(1), filename: "b.png" } }),
      });
      expect(big.status).toBe(413);
      expect((await up()).status).toBe(201);
      // X-Forwarded-For is not believed without IMGD_TRUST_PROXY.
      const third = await up(s, { "x-forwarded-for": "198.51.100.7" });
      expect(third.status).toBe(429);
      const err = (await third.json()) as any;
      expect(err.error.code).toBe("rate_limited");
      expect(err.error.message).toContain("per hour");
      await s.stop({ keepData: true });
      // An hour later the hour window is new; the day window still counts 2.
      const later = await startServer({
        env: { ...env, IMGD_TEST_CLOCK_OFFSET_MS: String(base + 3_600_000) },
        dataDir: s.dataDir,
      });
      try {
        expect((await up(later)).status).toBe(201);
        const fourth = await up(later);
        expect(fourth.status).toBe(429);
        expect(((await fourth.json()) as any).error.message).toContain("per day");
      } finally {
        await later.stop({ keepData: true });
      }
      // Behind a trusted proxy, each forwarded client has its own count.
      const proxied = await startServer({ env: { ...env, IMGD_TRUST_PROXY: "127.0.0.1/32" }, dataDir: s.dataDir });
      try {
        expect((await up(proxied, { "x-forwarded-for": "198.51.100.7" })).status).toBe(201);
        expect((await up(proxied, { "x-forwarded-for": "198.51.100.8" })).status).toBe(201);
        expect((await up(proxied, { "x-forwarded-for": "198.51.100.7" })).status).toBe(201);
        expect((await up(proxied, { "x-forwarded-for": "198.51.100.7" })).status).toBe(429);
      } finally {
        await proxied.stop({ keepData: true });
      }
    } finally {
      await rm(s.dataDir, { recursive: true, force: true });
    }
  });
});
