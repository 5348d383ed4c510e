import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decode, makeImage, pixel } from "../helpers/images.ts";
import { type TestServer, fixture, form, startServer } from "../helpers/server.ts";
import { query } from "../helpers/store.ts";

let s: TestServer;
/** 800×600 JPEG at /i/admin/photo.jpg */
let photo: any;
beforeAll(async () => {
  s = await startServer();
  photo = await upload(await makeImage(800, 600, "jpg"), "photo.jpg");
});
afterAll(() => s.stop());

async function upload(bytes: Uint8Array, filename: string, extra: Record<string, string> = {}) {
  const res = await s.api("/api/v1/images", { method: "POST", body: form({ file: { bytes, filename }, ...extra }) });
  expect(res.status).toBe(201);
  return (await res.json()) as any;
}

async function get(path: string, init?: RequestInit) {
  const res = await fetch(`${s.url}/i/admin/${path}`, init);
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { res, bytes };
}

/** Fetches a variant and decodes it: real format and dimensions. */
async function variant(path: string) {
  const { res, bytes } = await get(path);
  expect({ path, status: res.status, body: res.status === 200 ? "" : new TextDecoder().decode(bytes) }).toEqual({
    path,
    status: 200,
    body: "",
  });
  const d = await decode(bytes);
  expect(res.headers.get("content-length")).toBe(String(bytes.length));
  return { ...d, res, bytes };
}

const transformations = async () =>
  ((await (await s.api("/api/v1/usage")).json()) as any).current_period.transformations as number;

describe("URL options", () => {
  test("the extension picks the format", async () => {
    for (const [ext, format, mime] of [
      ["webp", "webp", "image/webp"],
      ["jpg", "jpeg", "image/jpeg"],
      ["jpeg", "jpeg", "image/jpeg"],
      ["png", "png", "image/png"],
    ]) {
      const v = await variant(`photo.${ext}?w=100`);
      expect({ ext, format: v.format, w: v.width, h: v.height }).toEqual({ ext, format, w: 100, h: 75 });
      expect(v.res.headers.get("content-type")).toBe(mime);
      expect(v.res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(v.res.headers.get("etag")).toMatch(/^"[0-9a-f]{64}"$/);
    }
    const avif = await variant("photo.avif?w=64");
    expect([avif.format, avif.width, avif.height]).toEqual(["avif", 64, 48]);
    expect(avif.res.headers.get("content-type")).toBe("image/avif");
  });

  test("without options, the file's own name serves the original bytes; another extension converts", async () => {
    const orig = await get("photo.jpg");
    expect(orig.res.headers.get("etag")).toBe(`"${photo.hash}"`);
    expect(orig.bytes.length).toBe(photo.size);
    const webp = await variant("photo.webp");
    expect([webp.format, webp.width, webp.height]).toEqual(["webp", 800, 600]);
    const noExt = await get("photo");
    expect(noExt.res.headers.get("etag")).toBe(`"${photo.hash}"`);
  });

  test("each fit mode", async () => {
    const cases: [string, number, number][] = [
      ["w=200&h=200&fit=cover", 200, 200],
      ["w=200&h=200&fit=contain", 200, 150],
      ["w=200&h=200", 200, 150],
      ["w=200&h=200&fit=fill", 200, 200],
      ["w=200&h=200&fit=scale-down", 200, 150],
      ["w=1600&fit=contain", 1600, 1200],
      ["w=1600&fit=scale-down", 800, 600],
      ["w=1000&h=1000&fit=scale-down", 800, 600],
      ["w=1000&h=300&fit=cover", 1000, 300],
      ["h=120", 160, 120],
    ];
    for (const [q, w, h] of cases) {
      const v = await variant(`photo.png?${q}`);
      expect({ q, w: v.width, h: v.height }).toEqual({ q, w, h });
    }
  });

  test("quality changes the bytes; equal URLs share one variant", async () => {
    const lo = await variant("photo.jpg?w=300&q=10");
    const hi = await variant("photo.jpg?w=300&q=95");
    expect(lo.bytes.length).toBeLessThan(hi.bytes.length);
    const a = await variant("photo.webp?w=300&h=200&fit=contain&q=80");
    const b = await variant("photo.webp?q=80&fit=contain&h=200&w=300");
    const c = await variant("photo.webp?h=200&w=300");
    expect(b.res.headers.get("etag")).toBe(a.res.headers.get("etag")!);
    expect(c.res.headers.get("etag")).toBe(a.res.headers.get("etag")!);
    expect(b.res.headers.get("x-cache")).toBe("HIT");
  });

  test("size=s|m|l constrains the short edge and never upscales", async () => {
    const big = await upload(await makeImage(1600, 1200, "jpg"), "big.jpg");
    expect(big.dimensions).toEqual({ width: 1600, height: 1200 });
    const cases: [string, number, number][] = [
      ["big.webp?size=s", 427, 320],
      ["big.webp?size=m", 853, 640],
      ["big.webp?size=l", 1440, 1080],
      ["photo.webp?size=l", 800, 600],
    ];
    for (const [p, w, h] of cases) {
      const v = await variant(p);
      expect({ p, w: v.width, h: v.height }).toEqual({ p, w, h });
    }
    const tall = await upload(await makeImage(400, 900, "png"), "tall.png");
    void tall;
    const t = await variant("tall.jpg?size=s");
    expect([t.width, t.height]).toEqual([320, 720]);
  });

  test("EXIF-rotated sources come out upright", async () => {
    for (const name of ["Landscape_3.jpg", "Landscape_6.jpg", "Landscape_8.jpg"]) {
      const up = await upload(await fixture(name), name);
      expect(up.dimensions).toEqual({ width: 600, height: 450 });
      const v = await variant(`${name.replace(".jpg", ".webp")}?w=300`);
      expect({ name, w: v.width, h: v.height }).toEqual({ name, w: 300, h: 225 });
    }
    const p = await upload(await fixture("Portrait_6.jpg"), "Portrait_6.jpg");
    const v = await variant("Portrait_6.png?h=300");
    expect(v.height).toBe(300);
    expect(v.width).toBeLessThan(v.height);
    void p;
  });

  test("alpha is kept in WebP and PNG, flattened for JPEG", async () => {
    await upload(await makeImage(64, 64, "png", { alpha: true }), "glass.png");
    const webp = await variant("glass.webp?w=32");
    expect(webp.hasAlpha).toBe(true);
    const png = await variant("glass.png?w=32");
    expect(png.hasAlpha).toBe(true);
    expect((await pixel(png.bytes, 5, 5))[3]).toBeGreaterThan(100);
    expect((await pixel(png.bytes, 5, 5))[3]).toBeLessThan(160);
    const jpg = await variant("glass.jpg?w=32");
    expect(jpg.hasAlpha).toBe(false);
    expect(jpg.bands).toBe(3);
  });

  test("AVIF over 8 megapixels or 4000 px on a side falls back to WebP", async () => {
    const v = await variant("photo.avif?w=4200&h=100&fit=fill");
    expect([v.format, v.width, v.height]).toEqual(["webp", 4200, 100]);
    expect(v.res.headers.get("content-type")).toBe("image/webp");
  });

  test("SVG is rasterised, never served as SVG", async () => {
    await upload(await fixture("check.svg"), "check.svg");
    const { res, bytes } = await get("check.svg");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect((await decode(bytes)).format).toBe("png");
    const w = await variant("check.webp?w=50");
    expect([w.format, w.width]).toEqual(["webp", 50]);
  });

  test("invalid, repeated and unknown options are 400 naming the option", async () => {
    for (const [q, name] of [
      ["w=0", "w"],
      ["w=10001", "w"],
      ["w=-5", "w"],
      ["w=abc", "w"],
      ["w=1.5", "w"],
      ["h=99999", "h"],
      ["q=0", "q"],
      ["q=101", "q"],
      ["fit=stretch", "fit"],
      ["size=xl", "size"],
      ["w=10&w=20", "w"],
      ["width=10", "width"],
      ["size=s&w=10", "size"],
    ]) {
      const { res, bytes } = await get(`photo.webp?${q}`);
      const body = JSON.parse(new TextDecoder().decode(bytes));
      expect({ q, status: res.status, code: body.error.code }).toEqual({ q, status: 400, code: "VALIDATION_ERROR" });
      expect(body.error.message).toContain(name);
    }
    expect((await get("nothing-here.webp")).res.status).toBe(404);
    expect((await fetch(`${s.url}/i/nobody/photo.webp`)).status).toBe(404);
  });
});

describe("caching", () => {
  test("304 on If-None-Match, for variants and originals", async () => {
    const first = await variant("photo.webp?w=123");
    const etag = first.res.headers.get("etag")!;
    const again = await fetch(`${s.url}/i/admin/photo.webp?w=123`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get("etag")).toBe(etag);
    expect(again.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const other = await fetch(`${s.url}/i/admin/photo.webp?w=123`, { headers: { "if-none-match": '"nope"' } });
    expect(other.status).toBe(200);
  });

  test("single flight: N concurrent requests for a new variant run one transform", async () => {
    const before = await transformations();
    const results = await Promise.all(Array.from({ length: 12 }, () => fetch(`${s.url}/i/admin/photo.webp?w=777`)));
    const etags = new Set(results.map((r) => r.headers.get("etag")));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(etags.size).toBe(1);
    for (const r of results) expect((await decode(new Uint8Array(await r.arrayBuffer()))).width).toBe(777);
    expect((await transformations()) - before).toBe(1);
    // Served from the cache from now on: not counted again.
    await variant("photo.webp?w=777");
    expect((await transformations()) - before).toBe(1);
  });

  test("deleting an image removes its variants", async () => {
    const up = await upload(await makeImage(300, 200, "jpg"), "temp.jpg");
    await variant("temp.webp?w=100");
    await variant("temp.png?w=50");
    const count = () => query(s.dataDir, "select count(*) as n from variants where blob_hash = ?", up.hash)[0].n;
    expect(count()).toBe(2);
    await s.api(`/api/v1/images/${up.id}`, { method: "DELETE" });
    expect(count()).toBe(0);
    expect((await get("temp.webp?w=100")).res.status).toBe(404);
  });
});

describe("presets and settings", () => {
  test("preset CRUD, duplicate names, validation, use in URLs, usage_count", async () => {
    const post = (body: unknown) => s.api("/api/v1/settings/presets", { method: "POST", body: JSON.stringify(body) });
    const res = await post({ name: "thumb", description: "square", params: { w: 96, h: 96, fit: "cover" } });
    expect(res.status).toBe(201);
    const p = (await res.json()) as any;
    expect(p).toMatchObject({
      name: "thumb",
      description: "square",
      params: { w: 96, h: 96, fit: "cover" },
      usage_count: 0,
    });
    expect(p.id).toMatch(/^preset_/);
    expect(typeof p.created_at).toBe("number");
    expect((await post({ name: "thumb", params: {} })).status).toBe(409);
    const bad = await post({ name: "bad", params: { w: 0 } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.message).toContain("params.w");
    expect((await post({ name: "bad", params: { blur: 3 } })).status).toBe(400);
    expect((await post({ name: "x".repeat(51), params: {} })).status).toBe(400);
    expect((await post({ params: {} })).status).toBe(400);

    const v = await variant("photo.webp?p:thumb");
    expect([v.format, v.width, v.height]).toEqual(["webp", 96, 96]);
    const v2 = await variant("photo.png?p:thumb&w=48");
    expect([v2.width, v2.height]).toEqual([48, 96]);
    expect((await get("photo.webp?p:nope")).res.status).toBe(404);

    const list = (await (await s.api("/api/v1/settings/presets")).json()) as any;
    expect(list.total).toBe(1);
    expect(list.presets[0].usage_count).toBe(2);

    const upd = await s.api(`/api/v1/settings/presets/${p.id}`, {
      method: "PUT",
      body: JSON.stringify({ params: { w: 40, h: 30, fit: "fill", format: "png" } }),
    });
    expect(upd.status).toBe(200);
    expect(((await upd.json()) as any).params).toEqual({ w: 40, h: 30, fit: "fill", format: "png" });
    const v3 = await variant("photo.jpg?p:thumb");
    expect([v3.format, v3.width, v3.height]).toEqual(["png", 40, 30]);
    const v4 = await variant("photo.webp?p:thumb");
    expect(v4.format).toBe("webp");
    expect(((await (await s.api(`/api/v1/settings/presets/${p.id}`)).json()) as any).name).toBe("thumb");

    const del = await s.api("/api/v1/settings/presets/thumb", { method: "DELETE" });
    expect(await del.json()).toEqual({ success: true, message: "Preset has been deleted" });
    expect((await s.api("/api/v1/settings/presets/thumb", { method: "DELETE" })).status).toBe(404);
  });

  test("settings: defaults for quality and fit come from the user", async () => {
    const before = (await (await s.api("/api/v1/settings")).json()) as any;
    expect(before.settings).toMatchObject({
      username: "admin",
      default_quality: 80,
      default_fit_mode: "contain",
      email: null,
      default_max_width: null,
    });
    expect(before.settings.total_uploads).toBeGreaterThan(0);
    const put = await s.api("/api/v1/settings", {
      method: "PUT",
      body: JSON.stringify({ default_fit_mode: "cover", default_quality: 30, theme: "dark" }),
    });
    expect(put.status).toBe(200);
    const after = (await put.json()) as any;
    expect(after.message).toBe("Settings updated successfully");
    expect(after.settings).toMatchObject({ default_fit_mode: "cover", default_quality: 30, theme: "dark" });
    const v = await variant("photo.jpg?w=100&h=100");
    expect([v.width, v.height]).toEqual([100, 100]);
    for (const body of [
      { default_quality: 0 },
      { default_fit_mode: "zoom" },
      { delivery_formats: ["bmp"] },
      { unknown: 1 },
    ]) {
      expect((await s.api("/api/v1/settings", { method: "PUT", body: JSON.stringify(body) })).status).toBe(400);
    }
    await s.api("/api/v1/settings", {
      method: "PUT",
      body: JSON.stringify({ default_fit_mode: "contain", default_quality: 80 }),
    });
  });
});

describe("private images and signed URLs", () => {
  test("valid, expired and tampered signatures", async () => {
    const up = await upload(await makeImage(200, 100, "jpg"), "private.jpg", { visibility: "private" });
    expect((await get("private.jpg")).res.status).toBe(403);
    expect((await get("private.webp?w=50")).res.status).toBe(403);

    const res = await s.api(`/api/v1/images/${up.id}/signed-url`, {
      method: "POST",
      body: JSON.stringify({ expires_in_seconds: 120 }),
    });
    expect(res.status).toBe(200);
    const signed = (await res.json()) as any;
    expect(signed.expires_in_seconds).toBe(120);
    expect(signed.signed_url).toContain("token=");
    expect(signed.signed_url).toContain(`expires=${signed.expires_at}`);
    const ok = await fetch(signed.signed_url);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("cache-control")).toMatch(/^private, max-age=1[01]\d$/);
    expect(await decode(new Uint8Array(await ok.arrayBuffer()))).toMatchObject({
      format: "jpeg",
      width: 200,
      height: 100,
    });

    const u = new URL(signed.signed_url);
    const tamper = async (f: (u: URL) => void) => {
      const t = new URL(u);
      f(t);
      return (await fetch(t)).status;
    };
    expect(await tamper((t) => t.searchParams.set("expires", String(Number(signed.expires_at) + 1000)))).toBe(403);
    expect(await tamper((t) => t.searchParams.set("w", "50"))).toBe(403);
    expect(await tamper((t) => (t.pathname = t.pathname.replace("private.jpg", "private.webp")))).toBe(403);
    const token = u.searchParams.get("token")!;
    expect(await tamper((t) => t.searchParams.set("token", (token[0] === "A" ? "B" : "A") + token.slice(1)))).toBe(403);
    // The same 32 bytes spelled another way: the last character's two unused bits set.
    const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const alias = token.slice(0, -1) + B64[B64.indexOf(token.at(-1)!) | 1];
    expect(Buffer.from(alias, "base64url")).toEqual(Buffer.from(token, "base64url"));
    expect(await tamper((t) => t.searchParams.set("token", alias))).toBe(403);

    const list = (await (await s.api("/api/v1/images?limit=100")).json()) as any;
    expect(list.images.find((i: any) => i.id === up.id).active_signed_url).toEqual({
      signed_url: signed.signed_url,
      expires_at: signed.expires_at,
    });

    for (const body of [{ expires_in_seconds: 59 }, { expires_in_seconds: 604801 }, { expires_in_seconds: "60" }]) {
      expect(
        (await s.api(`/api/v1/images/${up.id}/signed-url`, { method: "POST", body: JSON.stringify(body) })).status,
      ).toBe(400);
    }
    const dflt = (await (await s.api(`/api/v1/images/${up.id}/signed-url`, { method: "POST" })).json()) as any;
    expect(dflt.expires_in_seconds).toBe(3600);

    // Seen from a clock two hours on, the 120-second URL has expired.
    const later = await startServer({ dataDir: s.dataDir, env: { IMGD_TEST_CLOCK_OFFSET_MS: String(2 * 3600_000) } });
    try {
      const r = await fetch(signed.signed_url.replace(s.url, later.url));
      expect(r.status).toBe(403);
      expect(((await r.json()) as any).error.message).toContain("expired");
    } finally {
      await later.stop();
    }
  });
});

describe("usage", () => {
  test("the reference's shape with real counters", async () => {
    const u = (await (await s.api("/api/v1/usage")).json()) as any;
    expect(u.plan).toBe("unlimited");
    expect(u.plan_limits).toEqual({
      max_uploads_per_month: null,
      max_storage_bytes: null,
      max_bandwidth_per_month: null,
      max_api_requests_per_month: null,
      max_transformations_per_month: null,
    });
    expect(u.current_period.period).toMatch(/^\d{4}-\d\d$/);
    expect(u.current_period.uploads).toBeGreaterThanOrEqual(8);
    expect(u.current_period.transformations).toBeGreaterThan(20);
    expect(u.current_period.api_requests).toBeGreaterThan(10);
    expect(u.total_images).toBeGreaterThanOrEqual(8);
    expect(u.storage_used_bytes).toBeGreaterThan(0);
    expect(u.current_period.period_end - u.current_period.period_start).toBeGreaterThanOrEqual(28 * 86400);
  });
});
