import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decode, makeImage } from "../helpers/images.ts";
import { type TestServer, form, startServer } from "../helpers/server.ts";

// Format negotiation on every URL shape that asks for it, and signed variants of private images.

const CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
const SAFARI_OLD = "image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5";
const FIREFOX_WEBP = "image/webp,*/*";
const CURL = "*/*";

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
  const up = async (bytes: Uint8Array, filename: string, extra: Record<string, string> = {}) => {
    const res = await s.api("/api/v1/images", { method: "POST", body: form({ file: { bytes, filename }, ...extra }) });
    expect(res.status).toBe(201);
    return (await res.json()) as any;
  };
  await up(await makeImage(120, 90, "jpg"), "photo.jpg");
  await up(await makeImage(60, 40, "png", { alpha: true }), "logo.png");
});
afterAll(() => s.stop());

async function settings(formats: string[]) {
  const res = await s.api("/api/v1/settings", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ delivery_formats: formats }),
  });
  expect(res.status).toBe(200);
}

async function get(path: string, accept?: string, headers: Record<string, string> = {}) {
  const res = await fetch(s.url + path, { headers: { ...(accept === undefined ? {} : { accept }), ...headers } });
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) return { res, bytes, format: "", width: 0, height: 0, hasAlpha: false };
  return { res, bytes, ...(await decode(bytes)) };
}

const MIME: Record<string, string> = { avif: "image/avif", webp: "image/webp", jpeg: "image/jpeg", png: "image/png" };

describe("Accept negotiation", () => {
  test("every negotiating spelling follows Accept and the tenant's delivery_formats order", async () => {
    await settings(["avif", "webp", "jpeg"]);
    const urls = [
      "/i/admin/photo.jpg?w=60&f=auto",
      "/i/admin/photo.jpg?w=60&format=auto",
      "/i/admin/photo.auto?w=60",
      "/i/admin/photo.jpg?w=60&auto=format",
      "/_ipx/w_60,f_auto/admin/photo.jpg",
      "/cdn-cgi/image/width=60,format=auto/admin/photo.jpg",
      "/imgwire/cdn/admin/photo.jpg?w=60&format=auto",
    ];
    for (const url of urls) {
      for (const [accept, want] of [
        [CHROME, "avif"],
        [SAFARI_OLD, "webp"],
        [CURL, "jpeg"],
      ] as const) {
        const r = await get(url, accept);
        expect({ url, accept, status: r.res.status, format: r.format, w: r.width, h: r.height }).toEqual({
          url,
          accept,
          status: 200,
          format: want,
          w: 60,
          h: 45,
        });
        expect(r.res.headers.get("content-type")).toBe(MIME[want]);
        expect(r.res.headers.get("vary")).toBe("Accept");
      }
    }
  });

  test("the tenant's order decides between formats the browser accepts both of", async () => {
    await settings(["webp", "avif", "jpeg"]);
    expect((await get("/i/admin/photo.jpg?w=61&f=auto", CHROME)).format).toBe("webp");
    await settings(["jpeg"]);
    expect((await get("/i/admin/photo.jpg?w=61&f=auto", CHROME)).format).toBe("jpeg");
    // A source that may be transparent falls back to PNG, not JPEG.
    await settings(["avif", "webp", "jpeg"]);
    const png = await get("/i/admin/logo.png?w=30&f=auto", CURL);
    expect([png.format, png.hasAlpha]).toEqual(["png", true]);
    const webpRefused = await get("/i/admin/photo.jpg?w=61&f=auto", "image/webp;q=0,image/avif");
    expect(webpRefused.format).toBe("avif");
  });

  test("two Accept headers with the same choice share one variant; the raw header is not the key", async () => {
    await settings(["avif", "webp", "jpeg"]);
    const a = await get("/i/admin/photo.jpg?w=62&f=auto", SAFARI_OLD);
    const b = await get("/i/admin/photo.jpg?w=62&f=auto", FIREFOX_WEBP);
    expect([a.format, b.format]).toEqual(["webp", "webp"]);
    expect(b.res.headers.get("etag")).toBe(a.res.headers.get("etag")!);
    expect(b.res.headers.get("x-cache")).not.toBe("MISS");
    // And the same variant as the URL that names WebP outright (which does not vary).
    const fixed = await get("/i/admin/photo.webp?w=62", SAFARI_OLD);
    expect(fixed.res.headers.get("etag")).toBe(a.res.headers.get("etag")!);
    expect(fixed.res.headers.get("vary")).toBeNull();
    // A revalidation with the ETag is a 304 that still says Vary.
    const again = await fetch(`${s.url}/i/admin/photo.jpg?w=62&f=auto`, {
      headers: { accept: FIREFOX_WEBP, "if-none-match": a.res.headers.get("etag")! },
    });
    expect(again.status).toBe(304);
    expect(again.headers.get("vary")).toBe("Accept");
    // Remembered answers (the hot path) keep each Accept class apart.
    for (let i = 0; i < 3; i++) {
      expect((await get("/i/admin/photo.jpg?w=62&f=auto", CHROME)).format).toBe("avif");
      expect((await get("/i/admin/photo.jpg?w=62&f=auto", CURL)).format).toBe("jpeg");
      expect((await get("/i/admin/photo.jpg?w=62&f=auto", FIREFOX_WEBP)).format).toBe("webp");
    }
  });

  test("answers that do not depend on Accept carry no Vary: Accept", async () => {
    for (const url of ["/i/admin/photo.jpg", "/i/admin/photo.avif?w=40", "/_ipx/w_40/admin/photo.jpg"]) {
      const r = await get(url, CHROME);
      expect({ url, status: r.res.status, vary: r.res.headers.get("vary") }).toEqual({ url, status: 200, vary: null });
    }
  });
});

describe("signed variants", () => {
  let id: string;
  beforeAll(async () => {
    const res = await s.api("/api/v1/images", {
      method: "POST",
      body: form({ file: { bytes: await makeImage(100, 80, "jpg"), filename: "secret.jpg" }, visibility: "private" }),
    });
    expect(res.status).toBe(201);
    id = ((await res.json()) as any).id;
  });

  async function signed(body: Record<string, unknown>) {
    const res = await s.api(`/api/v1/images/${id}/signed-url`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { res, json: (await res.json()) as any };
  }

  test("a signature covers the path and the options: valid, reordered, added option, tampered, expired", async () => {
    const { res, json } = await signed({
      path: "secret.webp",
      options: { w: 50, fit: "cover", h: 50 },
      expires_in: 300,
    });
    expect(res.status).toBe(200);
    const url = new URL(json.signed_url);
    expect(url.pathname).toBe("/i/admin/secret.webp");
    const ok = await get(url.pathname + url.search);
    expect([ok.res.status, ok.format, ok.width, ok.height]).toEqual([200, "webp", 50, 50]);
    expect(ok.res.headers.get("cache-control")).toMatch(/^private, max-age=\d+$/);

    // The same options in another order: still valid.
    const q = url.searchParams;
    const reordered = `?h=50&token=${q.get("token")}&fit=cover&expires=${q.get("expires")}&w=50`;
    const r2 = await get(`/i/admin/secret.webp${reordered}`);
    expect([r2.res.status, r2.width, r2.height]).toEqual([200, 50, 50]);

    // img-src's spelling sig/exp.
    const aliased = await get(`/i/admin/secret.webp?w=50&h=50&fit=cover&sig=${q.get("token")}&exp=${q.get("expires")}`);
    expect([aliased.res.status, aliased.format]).toEqual([200, "webp"]);

    const refused = async (u: string) => {
      const r = await fetch(s.url + u);
      return { status: r.status, body: ((await r.json()) as any).error?.message as string };
    };
    // An added option, a changed option, another extension: not what was signed.
    expect((await refused(`/i/admin/secret.webp${reordered}&q=20`)).status).toBe(403);
    expect((await refused(`/i/admin/secret.webp${reordered.replace("h=50", "h=51")}`)).status).toBe(403);
    expect((await refused(`/i/admin/secret.png${reordered}`)).status).toBe(403);
    // A tampered token.
    const t = q.get("token")!;
    const bad = `${t[0] === "A" ? "B" : "A"}${t.slice(1)}`;
    const tampered = await refused(`/i/admin/secret.webp?w=50&h=50&fit=cover&token=${bad}&expires=${q.get("expires")}`);
    expect(tampered).toEqual({ status: 403, body: "This signed URL is not valid for this path and these options" });
    // Both spellings at once is a 400, not a guess.
    expect((await refused(`/i/admin/secret.webp${reordered}&sig=${t}`)).status).toBe(400);
  });

  test("an expired signature is refused with its own message", async () => {
    const { json } = await signed({ options: "w=40", expires_in: 60 });
    expect((await fetch(json.signed_url)).status).toBe(200);
    // Seen from a clock two minutes on, the 60-second variant URL has expired.
    const later = await startServer({ dataDir: s.dataDir, env: { IMGD_TEST_CLOCK_OFFSET_MS: "120000" } });
    try {
      const r = await fetch(json.signed_url.replace(s.url, later.url));
      expect(r.status).toBe(403);
      expect(((await r.json()) as any).error.message).toBe("This signed URL has expired: request a new one");
    } finally {
      await later.stop();
    }
  });

  test("a negotiated variant of a private image can be signed", async () => {
    const { json } = await signed({ path: "secret.auto", options: { w: 30 }, expires_in: 300 });
    const u = new URL(json.signed_url);
    const avif = await get(u.pathname + u.search, CHROME);
    const jpeg = await get(u.pathname + u.search, CURL);
    expect([avif.res.status, jpeg.res.status]).toEqual([200, 200]);
    expect([avif.format, jpeg.format]).toEqual(["avif", "jpeg"]);
    expect(avif.res.headers.get("vary")).toBe("Accept");
  });

  test("the endpoint refuses options no delivery would accept, and paths of other images", async () => {
    const bad = await signed({ options: { w: 0 } });
    expect(bad.res.status).toBe(400);
    expect(bad.json.error.message).toMatch(/^options\.w: /);
    const unknown = await signed({ options: { blurry: 1 } });
    expect(unknown.res.status).toBe(400);
    const other = await signed({ path: "photo.jpg" });
    expect(other.res.status).toBe(400);
    expect(other.json.error.message).toContain("is not a path of this image");
  });
});
