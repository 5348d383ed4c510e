import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import sharp from "sharp";
import { purgeRequests } from "../../src/domain/library/cdn-purge.ts";
import { decode, makeImage, pixel } from "../helpers/images.ts";
import { form, startServer, type TestServer } from "../helpers/server.ts";
import { secondTenant } from "../security/access-helpers.ts";

// POST /api/v1/images/:id/purge: every cached variant goes, the ETags change, and the CDN hook
// (a receiver on 127.0.0.2, reached through the fetcher with IMGD_PURGE_ALLOW_NETWORKS) is told
// the image's public URLs. A deletion tells the hook too.

interface Received {
  path: string;
  headers: Record<string, string>;
  body: any;
}
const received: Received[] = [];
let receiver: ReturnType<typeof Bun.serve>;
let s: TestServer;
let other: string;

beforeAll(async () => {
  receiver = Bun.serve({
    hostname: "127.0.0.2",
    port: 0,
    async fetch(req) {
      received.push({
        path: new URL(req.url).pathname,
        headers: Object.fromEntries(req.headers),
        body: await req.json(),
      });
      return Response.json({ success: true });
    },
  });
  s = await startServer({
    env: {
      IMGD_PURGE_URL: `http://127.0.0.2:${receiver.port}/hook`,
      IMGD_PURGE_TOKEN: "t0ken",
      IMGD_PURGE_ALLOW_NETWORKS: "127.0.0.2/32",
      IMGD_PUBLIC_URL: "https://img.example.com",
      IMGD_MEMORY_CACHE_BYTES: String(8 << 20),
    },
  });
  other = await secondTenant(s, "mallory");
});
afterAll(async () => {
  await s?.stop();
  receiver?.stop(true);
});

async function upload(bytes: Uint8Array, path: string): Promise<{ id: string }> {
  const res = await s.api("/api/v1/images", {
    method: "POST",
    body: form({ file: { bytes, filename: path.split("/").pop()! }, target_path: path }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string };
}

const get = async (path: string, etag?: string) => {
  const res = await fetch(`${s.url}${path}`, etag ? { headers: { "If-None-Match": etag } } : undefined);
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
};

const purge = (id: string, key?: string | null) =>
  s.api(`/api/v1/images/${id}/purge`, { method: "POST", ...(key !== undefined ? { key } : {}) });

/** Waits (bounded) until the hook received a request whose URLs include `url`. */
async function hookGot(url: string): Promise<Received> {
  for (let i = 0; i < 200; i++) {
    const r = received.find((x) => (x.body?.urls as string[] | undefined)?.includes(url));
    if (r) return r;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the purge hook never got ${url}; it got ${JSON.stringify(received.map((r) => r.body))}`);
}

describe("purge", () => {
  test("after a purge the same URLs answer new ETags, made again, with the right pixels; the hook gets the URLs", async () => {
    const { id } = await upload(await makeImage(400, 300, "jpg"), "p/photo.jpg");
    const url = "/i/admin/p/photo.webp?w=100";
    const first = await get(url);
    expect(first.res.status).toBe(200);
    expect(first.res.headers.get("x-cache")).toBe("MISS");
    const oldEtag = first.res.headers.get("etag")!;
    const original = await get("/i/admin/p/photo.jpg");
    const oldOriginalEtag = original.res.headers.get("etag")!;
    // Cached now: a hit from memory or the store, and 304 for the old tag.
    const again = await get(url);
    expect(again.res.headers.get("x-cache")).toBe("HIT");
    expect((await get(url, oldEtag)).res.status).toBe(304);

    const res = await purge(id);
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.id).toBe(id);
    expect(body.generation).toBe(1);
    expect(body.cdn).toEqual({ requests: 1, failed: [] });
    const direct = "https://img.example.com/i/admin/p/photo.jpg";
    const variantUrl = `https://img.example.com${url}`;
    expect(body.urls).toContain(direct);
    expect(body.urls).toContain(variantUrl);

    // The hook: one POST of the URLs, with the token.
    const hook = await hookGot(variantUrl);
    expect(hook.path).toBe("/hook");
    expect(hook.headers.authorization).toBe("Bearer t0ken");
    expect(hook.body.urls).toContain(direct);

    // The old tag is no longer the answer's: a 200 with a new tag, made again.
    const after = await get(url, oldEtag);
    expect(after.res.status).toBe(200);
    expect(after.res.headers.get("x-cache")).toBe("MISS");
    const newEtag = after.res.headers.get("etag")!;
    expect(newEtag).not.toBe(oldEtag);
    const d = await decode(after.bytes);
    expect([d.format, d.width, d.height]).toEqual(["webp", 100, 75]);
    // The gradient still runs from dark (top left) to light (bottom right).
    const tl = await pixel(after.bytes, 1, 1);
    const br = await pixel(after.bytes, 98, 73);
    expect(tl[0]).toBeLessThan(30);
    expect(br[0]).toBeGreaterThan(220);
    const same = await sharp(first.bytes).raw().toBuffer();
    const remade = await sharp(after.bytes).raw().toBuffer();
    expect(remade.length).toBe(same.length);
    // Then cached under the new tag.
    expect((await get(url, newEtag)).res.status).toBe(304);

    // The original too: new tag, same bytes.
    const orig2 = await get("/i/admin/p/photo.jpg", oldOriginalEtag);
    expect(orig2.res.status).toBe(200);
    expect(orig2.res.headers.get("etag")).not.toBe(oldOriginalEtag);
    expect(orig2.bytes).toEqual(original.bytes);

    // A second purge: a new tag again.
    expect(((await (await purge(id)).json()) as any).generation).toBe(2);
    const third = await get(url, newEtag);
    expect(third.res.status).toBe(200);
    expect(third.res.headers.get("etag")).not.toBe(newEtag);
  });

  test("another tenant's key gets 404 and no key 401; nothing is purged", async () => {
    const { id } = await upload(await makeImage(120, 90, "png"), "p/mine.png");
    const url = "/i/admin/p/mine.png?w=60";
    const before = (await get(url)).res.headers.get("etag")!;
    const before2 = (await get(url)).res;
    expect(before2.headers.get("x-cache")).toBe("HIT");
    const seen = received.length;

    const theirs = await purge(id, other);
    expect(theirs.status).toBe(404);
    expect(((await theirs.json()) as any).error.code).toBe("NOT_FOUND");
    const anon = await purge(id, null);
    expect(anon.status).toBe(401);
    expect((await purge("no-such-image")).status).toBe(404);

    const still = await get(url, before);
    expect(still.res.status).toBe(304);
    const hit = await get(url);
    expect(hit.res.headers.get("x-cache")).toBe("HIT");
    expect(hit.res.headers.get("etag")).toBe(before);
    expect(received.length).toBe(seen);
  });

  test("a read-only key cannot purge (403)", async () => {
    const { id } = await upload(await makeImage(50, 40, "png"), "p/ro.png");
    const made = await s.api("/api/v1/settings/api-keys", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "ro", scopes: ["read"] }),
    });
    expect(made.status).toBe(201);
    const { key } = (await made.json()) as { key: string };
    expect((await purge(id, key)).status).toBe(403);
  });

  test("deleting an image tells the hook its URLs", async () => {
    const { id } = await upload(await makeImage(64, 64, "png"), "p/gone.png");
    const url = "/i/admin/p/gone.webp?w=32";
    expect((await get(url)).res.status).toBe(200);
    const del = await s.api(`/api/v1/images/${id}`, { method: "DELETE" });
    expect(del.status).toBe(200);
    const hook = await hookGot(`https://img.example.com${url}`);
    expect(hook.body.urls).toContain("https://img.example.com/i/admin/p/gone.png");
    expect((await get(url)).res.status).toBe(404);
  });
});

describe("the hook goes through the SSRF-safe fetcher", () => {
  test("a hook on a loopback address without IMGD_PURGE_ALLOW_NETWORKS is refused, and said so", async () => {
    const t = await startServer({ env: { IMGD_PURGE_URL: `http://127.0.0.2:${receiver.port}/refused` } });
    try {
      const res = await t.api("/api/v1/images", {
        method: "POST",
        body: form({ file: { bytes: await makeImage(40, 30, "png"), filename: "x.png" } }),
      });
      const { id } = (await res.json()) as { id: string };
      const purged = await t.api(`/api/v1/images/${id}/purge`, { method: "POST" });
      expect(purged.status).toBe(200);
      const body = (await purged.json()) as any;
      expect(body.cdn.requests).toBe(1);
      expect(body.cdn.failed).toHaveLength(1);
      expect(body.cdn.failed[0].error).toContain("refused");
      expect(received.some((r) => r.path === "/refused")).toBe(false);
    } finally {
      await t.stop();
    }
  });
});

describe("the built-in CDN shapes (request construction only: nothing is sent)", () => {
  const urls = ["https://img.example.com/i/a/x.jpg", "https://img.example.com/i/a/x.webp?w=100"];

  test("Cloudflare: POST to the zone's purge_cache with {files}, batches of 30", () => {
    const reqs = purgeRequests({ shape: "cloudflare", zone: "z1", token: "cf" }, urls);
    expect(reqs).toEqual([
      {
        method: "POST",
        url: "https://api.cloudflare.com/client/v4/zones/z1/purge_cache",
        headers: { "Content-Type": "application/json", Authorization: "Bearer cf" },
        body: JSON.stringify({ files: urls }),
      },
    ]);
    const many = Array.from({ length: 61 }, (_, i) => `https://img.example.com/i/a/${i}.jpg`);
    const batches = purgeRequests({ shape: "cloudflare", zone: "z1", token: "cf" }, many);
    expect(batches.map((b) => JSON.parse(b.body!).files.length)).toEqual([30, 30, 1]);
  });

  test("Bunny: one POST per URL to api.bunny.net/purge with AccessKey", () => {
    expect(purgeRequests({ shape: "bunny", token: "bk" }, urls)).toEqual(
      urls.map((u) => ({
        method: "POST",
        url: `https://api.bunny.net/purge?url=${encodeURIComponent(u)}`,
        headers: { AccessKey: "bk" },
      })),
    );
  });

  test("Fastly: one POST per URL to api.fastly.com/purge/{host/path} with Fastly-Key", () => {
    expect(
      purgeRequests({ shape: "fastly", token: "fk" }, urls).map((r) => [r.method, r.url, r.headers["Fastly-Key"]]),
    ).toEqual([
      ["POST", "https://api.fastly.com/purge/img.example.com/i/a/x.jpg", "fk"],
      ["POST", "https://api.fastly.com/purge/img.example.com/i/a/x.webp?w=100", "fk"],
    ]);
  });

  test("a URL template: {url} makes one request per URL; a body template takes {urls} or {url}", () => {
    const per = purgeRequests(
      { shape: "url", url: "https://cdn.example/purge?u={url}", headers: { "X-K": "1" } },
      urls,
    );
    expect(per.map((r) => r.url)).toEqual(urls.map((u) => `https://cdn.example/purge?u=${encodeURIComponent(u)}`));
    expect(per[0].headers["X-K"]).toBe("1");
    const one = purgeRequests({ shape: "url", url: "https://cdn.example/purge", body: '{"files":{urls},"x":1}' }, urls);
    expect(one).toHaveLength(1);
    expect(JSON.parse(one[0].body!)).toEqual({ files: urls, x: 1 });
    expect(purgeRequests({ shape: "url", url: "https://cdn.example/p" }, [])).toEqual([]);
  });
});
