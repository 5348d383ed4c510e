import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { sessionCookie } from "../dashboard/helpers.ts";
import { decode, makeImage } from "../helpers/images.ts";
import { fixture, form, removeDataDir, startServer, type TestServer } from "../helpers/server.ts";
import { nativeError, tenant } from "../metering/helpers.ts";

// What an anonymous caller can cost a server and its tenants (issue 23): one URL cannot hold a
// worker for long, one address cannot make variants without end, one tenant's traffic cannot
// evict another tenant's variants, and strangers cannot use up the owner's transformations.

const json = { "content-type": "application/json" };

async function uploadAs(s: TestServer, key: string, name: string, bytes: Uint8Array) {
  const r = await s.api("/api/v1/images", { method: "POST", key, body: form({ file: { bytes, filename: name } }) });
  expect(r.status).toBe(201);
  return (await r.json()) as { id: string };
}

const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers });

async function image(res: Response) {
  expect(res.status).toBe(200);
  return decode(new Uint8Array(await res.arrayBuffer()));
}

describe("one URL cannot hold a worker: a cost cap per transform", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
    await uploadAs(s, s.adminKey, "a.jpg", await makeImage(1200, 900, "jpg"));
  });
  afterAll(() => s.stop());

  test("w=8192&h=8192 enlarged with blur 100 is a 400 naming the limit, on /i/ (imgix words) and the Imgwire CDN; 800 px WebP with blur 2 is made", async () => {
    const native = await get(`${s.url}/i/admin/a.jpg?w=8192&h=8192&fit=clip&blur=2000`);
    const err = await nativeError(native, 400, "VALIDATION_ERROR");
    expect(err.message).toContain("IMGD_MAX_TRANSFORM_COST");
    expect(err.message).toContain("over the limit of 100");
    const imgwire = await get(`${s.url}/imgwire/cdn/admin/a.jpg?w=8192&h=8192&enlarge=true&blur=100`);
    expect(imgwire.status).toBe(400);
    const body = (await imgwire.json()) as { detail: string };
    expect(body.detail).toContain("IMGD_MAX_TRANSFORM_COST");
    expect(body.detail).toMatch(/smaller size/);
    // A native URL as large, without the blur, is refused the same way.
    const plain = await get(`${s.url}/i/admin/a.webp?w=8192&h=8192&fit=cover`);
    expect((await nativeError(plain, 400, "VALIDATION_ERROR")).message).toContain("IMGD_MAX_TRANSFORM_COST");
    // Nothing was made.
    const metrics = await (await s.api("/metrics")).text();
    expect(metrics).toMatch(/^imgd_variant_cache_entries 0$/m);
    // An ordinary transform (800 px WebP, blur 2) is made, on both shapes.
    expect(await image(await get(`${s.url}/i/admin/a.webp?w=800&fit=clip&blur=40`))).toMatchObject({
      format: "webp",
      width: 800,
      height: 600,
    });
    expect(await image(await get(`${s.url}/imgwire/cdn/admin/a.jpg?w=800&f=webp&blur=2`))).toMatchObject({
      format: "webp",
      width: 800,
      height: 600,
    });
  });
});

test("a variant made before the cap was lowered is still served from the cache; a new one as dear is refused", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "imgd-cost-"));
  try {
    const before = await startServer({ dataDir });
    await uploadAs(before, before.adminKey, "a.jpg", await makeImage(1200, 900, "jpg"));
    const made = await get(`${before.url}/i/admin/a.webp?w=2400&fit=contain`);
    expect(made.headers.get("x-cache")).toBe("MISS");
    expect((await image(made)).width).toBe(2400);
    await before.stop({ keepData: true });
    const after = await startServer({ dataDir, env: { IMGD_MAX_TRANSFORM_COST: "5" } });
    try {
      const hit = await get(`${after.url}/i/admin/a.webp?w=2400&fit=contain`);
      expect(hit.headers.get("x-cache")).toBe("HIT");
      expect((await image(hit)).width).toBe(2400);
      const refused = await get(`${after.url}/i/admin/a.webp?w=2401&fit=contain`);
      expect((await nativeError(refused, 400, "VALIDATION_ERROR")).message).toContain("over the limit of 5");
    } finally {
      await after.stop({ keepData: true });
    }
  } finally {
    await removeDataDir(dataDir);
  }
});

describe("an animation's cost counts every frame (IMGD_MAX_TRANSFORM_COST=8)", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ env: { IMGD_MAX_TRANSFORM_COST: "8" } });
    await uploadAs(s, s.adminKey, "anim.gif", await fixture("animated-loop-3.gif"));
  });
  afterAll(() => s.stop());

  test("all 10 frames at 1300 px are refused (400 naming the limit); one frame of it, or all at 400 px, are made", async () => {
    const all = await get(`${s.url}/i/admin/anim.gif?w=1300&fit=contain`);
    const err = await nativeError(all, 400, "INVALID_FILE");
    expect(err.message).toContain("all 10 frames");
    expect(err.message).toContain("over the limit of 8 (IMGD_MAX_TRANSFORM_COST)");
    const one = await image(await get(`${s.url}/i/admin/anim.gif?w=1300&fit=contain&frame=1`));
    expect(one).toMatchObject({ format: "gif", width: 1300 });
    const small = await get(`${s.url}/i/admin/anim.gif?w=400&fit=contain`);
    expect(small.status).toBe(200);
    const meta = await sharp(new Uint8Array(await small.arrayBuffer()), { pages: -1 }).metadata();
    expect({ width: meta.width, pages: meta.pages }).toEqual({ width: 400, pages: 10 });
  });
});

describe("a budget of new variants per client address (IMGD_MISS_RATE=5/min)", () => {
  let s: TestServer;
  beforeAll(async () => {
    // Loopback is a trusted proxy here, so X-Forwarded-For can name other clients.
    s = await startServer({ env: { IMGD_MISS_RATE: "5/min", IMGD_TRUST_PROXY: "127.0.0.1/32" } });
    await uploadAs(s, s.adminKey, "a.jpg", await makeImage(640, 480, "jpg"));
  });
  afterAll(() => s.stop());

  test("the 6th anonymous new variant is a 429 with Retry-After; hits and the owner go on", async () => {
    // The bucket refills continuously (one every 12 s): on a slow machine a few more than 5 may
    // pass before the refusal, never more than the time taken allows.
    const started = Date.now();
    let w = 101;
    let refused: Response | undefined;
    for (; w <= 130 && !refused; w++) {
      const r = await get(`${s.url}/i/admin/a.jpg?w=${w}`);
      if (r.status === 429) refused = r;
      else {
        expect(r.headers.get("x-cache")).toBe("MISS");
        expect((await image(r)).width).toBe(w);
      }
    }
    const made = w - 102;
    expect(made).toBeGreaterThanOrEqual(5);
    expect(made).toBeLessThanOrEqual(5 + Math.ceil((Date.now() - started) / 12_000));
    if (!refused) throw new Error("no 429 after 30 new variants");
    const retry = Number(refused.headers.get("retry-after"));
    const err = await nativeError(refused, 429, "RATE_LIMIT_EXCEEDED");
    expect(err.message).toContain("IMGD_MISS_RATE");
    expect(err.message).toContain("5 per minute");
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    // A key of nobody is just anonymous: still refused (asked at once: the bucket refills a
    // token every 12 s, and the steps below can take that long on a loaded machine).
    expect((await get(`${s.url}/i/admin/a.jpg?w=205`, { authorization: "Bearer imgsrc_nope" })).status).toBe(429);
    // Every shape draws from the same budget, each answering in its own words.
    const imgwire = await get(`${s.url}/imgwire/cdn/admin/a.jpg?w=${w + 1}`);
    expect(imgwire.status).toBe(429);
    expect(Number(imgwire.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(((await imgwire.json()) as { detail: string }).detail).toContain("IMGD_MISS_RATE");
    const ipx = await get(`${s.url}/_ipx/w_${w + 2}/admin/a.jpg`);
    expect(Number(ipx.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    await nativeError(ipx, 429, "RATE_LIMIT_EXCEEDED");

    // A variant already made is still served to anyone.
    const hit = await get(`${s.url}/i/admin/a.jpg?w=103`);
    expect(hit.headers.get("x-cache")).toBe("HIT");
    expect((await image(hit)).width).toBe(103);

    // The owner's key is not limited: new variants are made for it.
    for (const w of [201, 202]) {
      const own = await get(`${s.url}/i/admin/a.jpg?w=${w}`, { authorization: `Bearer ${s.adminKey}` });
      expect(own.headers.get("x-cache")).toBe("MISS");
      expect((await image(own)).width).toBe(w);
    }
    // Nor its dashboard session (opened with the key).
    const login = await fetch(`${s.url}/auth/login`, {
      method: "POST",
      headers: { ...json, origin: s.url },
      body: JSON.stringify({ api_key: s.adminKey }),
    });
    expect(login.status).toBe(200);
    const viaSession = await get(`${s.url}/imgwire/cdn/admin/a.jpg?w=203`, { cookie: sessionCookie(login)! });
    expect((await image(viaSession)).width).toBe(203);
    // Nor a URL it signed.
    const signed = await s.api(`/api/v1/images/${(await listIds(s))[0]}/signed-url`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ options: { w: 204 } }),
    });
    expect(signed.status).toBe(200);
    const { signed_url } = (await signed.json()) as { signed_url: string };
    expect((await image(await get(signed_url))).width).toBe(204);
    // Another client address (as the trusted proxy names it) has a budget of its own.
    const other = await get(`${s.url}/i/admin/a.jpg?w=206`, { "x-forwarded-for": "203.0.113.9" });
    expect((await image(other)).width).toBe(206);
  });
});

async function listIds(s: TestServer): Promise<string[]> {
  const list = (await (await s.api("/api/v1/images")).json()) as { images: { id: string }[] };
  return list.images.map((i) => i.id);
}

describe("one tenant's traffic cannot evict another tenant's variants", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ env: { IMGD_REGISTRATION: "open", IMGD_VARIANT_CACHE_BYTES: "20000" } });
  });
  afterAll(() => s.stop());

  test("B's variant is still a hit after A's anonymous flood fills the cache many times over", async () => {
    const a = await tenant(s, "unlimited");
    const b = await tenant(s, "unlimited");
    await uploadAs(s, a.key, "a.jpg", await makeImage(640, 480, "jpg"));
    await uploadAs(s, b.key, "b.jpg", await makeImage(640, 480, "jpg"));
    const bUrl = `${s.url}/i/${b.username}/b.jpg?w=300`;
    expect((await get(bUrl)).headers.get("x-cache")).toBe("MISS");
    expect((await get(bUrl)).headers.get("x-cache")).toBe("HIT");
    let made = 0;
    for (let w = 200; w < 440; w += 8) {
      const r = await get(`${s.url}/i/${a.username}/a.jpg?w=${w}`);
      expect(r.status).toBe(200);
      made += (await r.arrayBuffer()).byteLength;
    }
    expect(made).toBeGreaterThan(3 * 20000);
    // Eviction runs after each store: wait until the cache is back under its cap.
    const metric = async (name: string) =>
      Number(new RegExp(`^${name} (\\d+)$`, "m").exec(await (await s.api("/metrics")).text())?.[1]);
    for (let i = 0; i < 100 && (await metric("imgd_variant_cache_bytes")) > 20000; i++) await Bun.sleep(50);
    expect(await metric("imgd_variant_cache_bytes")).toBeLessThanOrEqual(20000);
    expect(await metric("imgd_variant_cache_evictions_total")).toBeGreaterThan(0);
    const again = await get(bUrl);
    expect(again.headers.get("x-cache")).toBe("HIT");
    expect((await image(again)).width).toBe(300);
    // A's own variants were evicted instead: its first one is made again.
    expect((await get(`${s.url}/i/${a.username}/a.jpg?w=200`)).headers.get("x-cache")).toBe("MISS");
  });
});

describe("anonymous misses never use up the owner's transformations", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({
      env: {
        IMGD_REGISTRATION: "open",
        IMGD_PLANS: JSON.stringify({
          tf5: { transformations_per_month: 5, requests_per_minute: null, api_requests_per_month: null },
        }),
      },
    });
  });
  afterAll(() => s.stop());

  test("on a plan of 5, anonymous callers get 4 (403 PLAN_LIMIT_EXCEEDED after), the owner still gets its own", async () => {
    const t = await tenant(s, "tf5");
    await uploadAs(s, t.key, "a.jpg", await makeImage(640, 480, "jpg"));
    for (let w = 101; w <= 104; w++)
      expect((await image(await get(`${s.url}/i/${t.username}/a.jpg?w=${w}`))).width).toBe(w);
    const refused = await get(`${s.url}/i/${t.username}/a.jpg?w=105`);
    const err = await nativeError(refused, 403, "PLAN_LIMIT_EXCEEDED");
    expect(err.message).toContain("1 of 5 are kept for the owner");
    // Made variants are still served to anyone.
    expect((await get(`${s.url}/i/${t.username}/a.jpg?w=101`)).headers.get("x-cache")).toBe("HIT");
    // The owner's own new variant is made.
    const own = await get(`${s.url}/i/${t.username}/a.jpg?w=300`, { authorization: `Bearer ${t.key}` });
    expect(own.headers.get("x-cache")).toBe("MISS");
    expect((await image(own)).width).toBe(300);
    // All five counted; past the plan the owner is refused as before.
    const usage = (await (await s.api("/api/v1/usage", { key: t.key })).json()) as any;
    expect(JSON.stringify(usage)).toContain('"transformations":5');
    const over = await get(`${s.url}/i/${t.username}/a.jpg?w=301`, { authorization: `Bearer ${t.key}` });
    expect((await nativeError(over, 403, "PLAN_LIMIT_EXCEEDED")).message).toContain(
      "Monthly transformation limit of 5",
    );
  });
});
