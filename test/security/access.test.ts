import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { normaliseOrigin, originListed } from "../../src/domain/delivery/access.ts";
import { makeImage } from "../helpers/images.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { pixelsOf, secondTenant, signed, solid, upload } from "./access-helpers.ts";

// What a caller may see and make imgd do, tried from the attacker's side against two tenants:
// an image named inside another's URL (a watermark by id) obeys the delivery rules, a URL that
// makes imgd fetch needs a signature, the owner or an origin the tenant lists, and
// IMGD_TRANSFORMS (and a tenant's `transforms`) holds every URL shape.

const GREEN: [number, number, number] = [0, 200, 0];
const RED: [number, number, number] = [230, 0, 0];
const BLUE: [number, number, number] = [0, 0, 255];

let s: TestServer;
let upstream: ReturnType<typeof Bun.serve>;
const hits: Record<string, number> = {};
let bobKey: string;
let secretId: string;
let pubId: string;
let markId: string;
let bobMarkId: string;
let bobPublicId: string;
let blue: Uint8Array;

beforeAll(async () => {
  blue = await solid(30, 30, BLUE);
  upstream = Bun.serve({
    hostname: "127.0.0.2",
    port: 0,
    fetch: (req) => {
      const p = new URL(req.url).pathname;
      hits[p] = (hits[p] ?? 0) + 1;
      return p.endsWith("/blue.png") ? new Response(blue as BodyInit) : new Response("no", { status: 404 });
    },
  });
  s = await startServer({ env: { IMGD_IMPORT_ALLOW_NETWORKS: "127.0.0.2/32" } });
  bobKey = await secondTenant(s, "bob");
  pubId = await upload(s, undefined, await solid(120, 90, [128, 128, 128]), "pub/a.png", "public");
  secretId = await upload(s, undefined, await solid(120, 90, GREEN), "secret/s.png", "private");
  markId = await upload(s, undefined, await solid(40, 40, RED), "marks/red.png", "public");
  bobMarkId = await upload(s, bobKey, await solid(40, 40, RED), "marks/red.png", "public");
  bobPublicId = await upload(s, bobKey, await makeImage(160, 120, "jpg"), "pub/b.jpg", "public");
});
afterAll(async () => {
  await s?.stop();
  upstream?.stop(true);
});

const totalHits = () => Object.values(hits).reduce((a, b) => a + b, 0);

/** An anonymous GET (no key, no cookie). */
async function anon(path: string) {
  const res = await fetch(s.url + path);
  return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()), headers: res.headers };
}
/** A GET with a key. */
async function withKey(path: string, key?: string) {
  const res = await s.api(path, key ? { key } : {});
  return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()), headers: res.headers };
}
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("a watermark by id resolves like an anonymous delivery of that image", () => {
  const attack = (id: string) => `/imgwire/cdn/admin/pub/a.png?watermark=${id}:ce&watermark_size=120:90&f=png`;

  test("a private image's id never brings its pixels into a public URL", async () => {
    const direct = await anon("/imgwire/cdn/admin/secret/s.png");
    expect(direct.status).toBe(403);
    const got = await anon(attack(secretId));
    if (got.status === 200) expect((await pixelsOf(got.bytes)).near(GREEN)).toBeLessThan(0.05);
    expect(got.status).toBe(404);
    // The same words as for no image at all: the id says nothing about what it names.
    const none = await anon(attack(crypto.randomUUID()));
    expect(none.status).toBe(404);
    expect(text(got.bytes).replace(secretId, "ID")).toBe(text(none.bytes).replace(/[0-9a-f-]{36}/, "ID"));
    expect(text(got.bytes)).not.toContain("private");
  });

  test("public marks of the same tenant work; another tenant's never do", async () => {
    const ok = await anon(attack(markId));
    expect(ok.status).toBe(200);
    // A 40×40 square fitted into 120×90: three quarters of the answer.
    expect((await pixelsOf(ok.bytes)).near(RED)).toBeGreaterThan(0.7);
    expect((await anon(attack(bobMarkId))).status).toBe(404);
    // Not even with bob's own key: the mark must be the image owner's.
    expect((await withKey(attack(bobMarkId), bobKey)).status).toBe(404);
    expect((await withKey(attack(secretId), bobKey)).status).toBe(404);
  });

  test("the owner's key, or a signature over the whole URL, may use a private mark", async () => {
    const own = await withKey(attack(secretId));
    expect(own.status).toBe(200);
    expect((await pixelsOf(own.bytes)).near(GREEN)).toBeGreaterThan(0.9);
    // An answer that shows a private image stays out of shared caches, whatever the base image.
    expect(own.headers.get("cache-control")).toStartWith("private");
    const url = await signed(s, undefined, pubId, {
      dialect: "imgwire",
      path: "pub/a.png",
      options: { watermark: `${secretId}:ce`, watermark_size: "120:90", f: "png" },
    });
    expect(url).toStartWith("/imgwire/cdn/admin/pub/a.png?");
    const viaSignature = await anon(url);
    expect(viaSignature.status).toBe(200);
    expect(viaSignature.headers.get("cache-control")).toStartWith("private");
    expect((await pixelsOf(viaSignature.bytes)).near(GREEN)).toBeGreaterThan(0.9);
    // The signature covers every parameter: another mark position is another URL.
    const moved = new URL(url, s.url);
    moved.searchParams.set("watermark", `${secretId}:nowe`);
    const tampered = await anon(moved.pathname + moved.search);
    // The base image is public, so the request is served as an anonymous one: without the mark.
    expect(tampered.status).toBe(404);
    // A native signature does not verify on Imgwire's CDN (nor the other way round).
    const native = await signed(s, undefined, secretId, { options: { w: 50 } });
    expect((await anon(native)).status).toBe(200);
    expect((await anon(`/imgwire/cdn/admin/secret/s.png${native.slice(native.indexOf("?"))}`)).status).toBe(403);
    const iw = await signed(s, undefined, secretId, { dialect: "imgwire", options: { w: 50 } });
    expect((await anon(iw)).status).toBe(200);
    expect((await anon(`/i/admin/secret/s.png${iw.slice(iw.indexOf("?"))}`)).status).toBe(403);
  });

  test("a private image on Imgwire's CDN: the owner's key or a signed URL, never anonymous", async () => {
    expect((await withKey("/imgwire/cdn/admin/secret/s.png?f=png", bobKey)).status).toBe(403);
    const own = await withKey("/imgwire/cdn/admin/secret/s.png?f=png");
    expect(own.status).toBe(200);
    expect(own.headers.get("cache-control")).toStartWith("private");
    expect((await pixelsOf(own.bytes)).near(GREEN)).toBeGreaterThan(0.9);
    const url = await signed(s, undefined, secretId, { dialect: "imgwire", options: { w: 60, f: "png" } });
    const got = await anon(url);
    expect(got.status).toBe(200);
    expect((await pixelsOf(got.bytes)).width).toBe(60);
  });
});

describe("watermark_url: only signed URLs, the owner, or origins the tenant lists", () => {
  const wm = (u: string) => `/imgwire/cdn/bob/pub/b.jpg?watermark_url=${btoa(u)}&f=png&w=80`;
  const at = (p: string) => `http://127.0.0.2:${upstream.port}${p}`;

  test("an anonymous unsigned URL makes no fetch, and its refusal says nothing about the host", async () => {
    const before = totalHits();
    const got = await anon(wm(at("/marks/blue.png")));
    expect(got.status).toBe(403);
    expect(totalHits()).toBe(before);
    const bodies = new Set<string>();
    for (const u of [
      at("/marks/blue.png"),
      "http://127.0.0.1:1/x.png",
      "http://localhost:1/x.png",
      "http://[::1]:1/x.png",
      "http://[::ffff:127.0.0.1]:1/x.png",
    ]) {
      const r = await anon(wm(u));
      expect(r.status).toBe(403);
      bodies.add(JSON.parse(text(r.bytes)).detail);
    }
    // One answer for all: nothing in it depends on the address.
    expect(bodies.size).toBe(1);
    expect([...bodies][0]).not.toContain("127.");
    expect(totalHits()).toBe(before);
  });

  test("an origin the tenant lists works for anyone; a neighbour or a dot-dot escape does not", async () => {
    const put = await s.api("/api/v1/settings", {
      key: bobKey,
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ fetch_origins: [at("/marks"), "http://127.0.0.1:1/", "http://localhost:1/"] }),
    });
    expect(put.status).toBe(200);
    const settings = ((await put.json()) as any).settings;
    expect(settings.fetch_origins).toEqual([at("/marks/"), "http://127.0.0.1:1/", "http://localhost:1/"]);
    expect(((await (await s.api("/api/v1/settings", { key: bobKey })).json()) as any).settings.fetch_origins).toEqual(
      settings.fetch_origins,
    );
    const bad = await s.api("/api/v1/settings", {
      key: bobKey,
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ fetch_origins: ["ftp://example.com/"] }),
    });
    expect(bad.status).toBe(400);

    const before = hits["/marks/blue.png"] ?? 0;
    const ok = await anon(wm(at("/marks/blue.png")));
    expect(ok.status).toBe(200);
    expect(hits["/marks/blue.png"]).toBe(before + 1);
    expect((await pixelsOf(ok.bytes)).near(BLUE)).toBeGreaterThan(0.02);

    const all = totalHits();
    for (const p of ["/marks-evil/blue.png", "/marks/../secret/blue.png", "/marks/%2e%2e/secret/blue.png", "/blue.png"])
      expect((await anon(wm(at(p)))).status).toBe(403);
    expect(totalHits()).toBe(all);

    // A listed origin the fetcher refuses: the anonymous caller learns only that it failed.
    const a = await anon(wm("http://127.0.0.1:1/x.png"));
    const b = await anon(wm("http://localhost:1/x.png"));
    expect(a.status).toBe(400);
    expect(b.status).toBe(400);
    expect(JSON.parse(text(a.bytes)).detail).toBe(JSON.parse(text(b.bytes)).detail);
    expect(text(a.bytes)).not.toMatch(/127\.0\.0\.1|loopback|resolve|refused|connect/i);
    expect(totalHits()).toBe(all);
  });

  test("a signed URL, or the owner's key, may fetch any URL the fetcher allows", async () => {
    const before = hits["/secret/blue.png"] ?? 0;
    expect((await anon(wm(at("/secret/blue.png")))).status).toBe(403);
    expect(hits["/secret/blue.png"] ?? 0).toBe(before);
    const url = await signed(s, bobKey, bobPublicId, {
      dialect: "imgwire",
      options: { watermark_url: btoa(at("/secret/blue.png")), f: "png", w: "80" },
    });
    const got = await anon(url);
    expect(got.status).toBe(200);
    expect(hits["/secret/blue.png"]).toBe(before + 1);
    expect((await pixelsOf(got.bytes)).near(BLUE)).toBeGreaterThan(0.02);
    const own = await withKey(wm(at("/secret/blue.png")), bobKey);
    expect(own.status).toBe(200);
    // The owner still gets the fetcher's own refusal of loopback, with its reason.
    for (const u of ["http://127.0.0.1:1/x.png", "http://localhost:1/x.png", "http://[::1]:1/x.png"]) {
      const r = await withKey(wm(u), bobKey);
      expect(r.status).toBe(400);
    }
  });
});

describe("IMGD_TRANSFORMS and a tenant's transforms hold every URL shape", () => {
  const settings = (key: string | undefined, body: unknown) =>
    s.api("/api/v1/settings", {
      ...(key ? { key } : {}),
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  const ORIGINALS = [
    "/i/bob/pub/b.jpg",
    "/i/bob/pub/b.jpg?placeholder",
    "/imgwire/cdn/bob/pub/b.jpg",
    "/_ipx/_/bob/pub/b.jpg",
  ];
  const PRESETS = ["/i/bob/pub/b.jpg?p:thumb", "/i/bob/pub/b.jpg?size=s", "/imgwire/cdn/bob/pub/b.jpg@small"];
  const OPTIONS = [
    "/i/bob/pub/b.jpg?w=50",
    "/i/bob/pub/b.webp",
    "/i/bob/pub/b.jpg?w=50&fm=webp",
    "/imgwire/cdn/bob/pub/b.jpg?w=50",
    "/_ipx/w_50/bob/pub/b.jpg",
    "/cdn-cgi/image/width=50/bob/pub/b.jpg",
    "/_next/image?url=%2Fbob%2Fpub%2Fb.jpg&w=64&q=75",
  ];

  test("signed: unsigned URLs get only the original; the owner and signed URLs are not held", async () => {
    const preset = await s.api("/api/v1/settings/presets", {
      key: bobKey,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "thumb", params: { w: 40 } }),
    });
    expect(preset.status).toBe(201);
    // Remembered for the hot path before the tenant tightens its rule.
    for (let i = 0; i < 2; i++) expect((await anon("/i/bob/pub/b.jpg?w=50")).status).toBe(200);

    const put = await settings(bobKey, { transforms: "signed" });
    expect(put.status).toBe(200);
    expect(((await put.json()) as any).settings.transforms).toBe("signed");
    for (const u of ORIGINALS) expect([u, (await anon(u)).status]).toEqual([u, 200]);
    for (const u of [...PRESETS, ...OPTIONS]) {
      const r = await anon(u);
      expect([u, r.status]).toEqual([u, 403]);
      expect(text(r.bytes)).toContain("signed");
    }
    for (const u of [...PRESETS, ...OPTIONS]) expect([u, (await withKey(u, bobKey)).status]).toEqual([u, 200]);
    // What the owner was given is not remembered for the hot path of everyone else.
    for (const u of [...PRESETS, ...OPTIONS]) expect([u, (await anon(u)).status]).toEqual([u, 403]);
    // Another tenant's key is nobody here.
    expect((await withKey("/i/bob/pub/b.jpg?w=50")).status).toBe(403);

    const nativeUrl = await signed(s, bobKey, bobPublicId, { options: { w: 50 } });
    const got = await anon(nativeUrl);
    expect(got.status).toBe(200);
    expect((await pixelsOf(got.bytes)).width).toBe(50);
    expect((await anon(nativeUrl.replace("w=50", "w=51"))).status).toBe(403);
    const iw = await signed(s, bobKey, bobPublicId, { dialect: "imgwire", path: "pub/b.jpg@small" });
    expect((await anon(iw)).status).toBe(200);
  });

  test("the dashboard's session is its owner: previews of private images and transforms under signed", async () => {
    const login = await fetch(`${s.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: s.url },
      body: JSON.stringify({ api_key: bobKey }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers
      .getSetCookie()
      .map((c) => c.split(";")[0]!)
      .find((c) => c.startsWith("imgd_session="))!;
    await upload(s, bobKey, await solid(50, 40, GREEN), "priv/g.png", "private");
    const asSession = (u: string) => fetch(s.url + u, { headers: { cookie } });
    const preview = await asSession("/i/bob/priv/g.png?w=25");
    expect(preview.status).toBe(200);
    expect(preview.headers.get("cache-control")).toStartWith("private");
    const px = await pixelsOf(new Uint8Array(await preview.arrayBuffer()));
    expect([px.width, px.near(GREEN) > 0.9]).toEqual([25, true]);
    expect((await anon("/i/bob/priv/g.png?w=25")).status).toBe(403);
    // Still under transforms=signed from the test before.
    expect((await asSession("/_ipx/w_30/bob/pub/b.jpg")).status).toBe(200);
    expect((await anon("/_ipx/w_30/bob/pub/b.jpg")).status).toBe(403);
  });

  test("presets: presets too; any: everything again", async () => {
    expect((await settings(bobKey, { transforms: "presets" })).status).toBe(200);
    for (const u of PRESETS) expect([u, (await anon(u)).status]).toEqual([u, 200]);
    for (const u of OPTIONS) expect([u, (await anon(u)).status]).toEqual([u, 403]);
    expect((await settings(bobKey, { transforms: "any" })).status).toBe(200);
    for (const u of [...PRESETS, ...OPTIONS]) expect([u, (await anon(u)).status]).toEqual([u, 200]);
    expect((await settings(bobKey, { transforms: "all" })).status).toBe(400);
  });

  test("the server's IMGD_TRANSFORMS=signed: a tenant cannot loosen it", async () => {
    const t = await startServer({ env: { IMGD_TRANSFORMS: "signed" } });
    try {
      await upload(t, undefined, await makeImage(80, 60, "jpg"), "p.jpg", "public");
      const put = await t.api("/api/v1/settings", {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ transforms: "any" }),
      });
      expect(put.status).toBe(200);
      expect((await fetch(`${t.url}/i/admin/p.jpg`)).status).toBe(200);
      expect((await fetch(`${t.url}/i/admin/p.jpg?w=20`)).status).toBe(403);
      expect((await fetch(`${t.url}/_ipx/w_20/admin/p.jpg`)).status).toBe(403);
      expect((await fetch(`${t.url}/imgwire/cdn/admin/p.jpg@small`)).status).toBe(403);
      expect((await t.api("/i/admin/p.jpg?w=20")).status).toBe(200);
    } finally {
      await t.stop();
    }
  });
});

test("fetch_origins match whole path segments after normalising both sides", () => {
  expect(normaliseOrigin("HTTPS://CDN.Example.com:443/logos")).toBe("https://cdn.example.com/logos/");
  expect(normaliseOrigin("https://cdn.example.com")).toBe("https://cdn.example.com/");
  for (const bad of ["ftp://x/", "https://u:p@x/", "https://x/?q=1", "https://x/#f", "not a url", "/logos/"])
    expect([bad, normaliseOrigin(bad)]).toEqual([bad, null]);
  const listed = ["https://cdn.example.com/logos"];
  expect(originListed(listed, "https://cdn.example.com/logos/a.png")).toBe(true);
  expect(originListed(listed, "https://CDN.example.com:443/logos/sub/a.png")).toBe(true);
  for (const no of [
    "https://cdn.example.com/logos",
    "https://cdn.example.com/logos-evil/a.png",
    "https://cdn.example.com/logos/../secret/a.png",
    "https://cdn.example.com/logos/%2e%2e/secret/a.png",
    "https://cdn.example.com/logos%2f..%2fsecret/a.png",
    "http://cdn.example.com/logos/a.png",
    "https://cdn.example.com:8443/logos/a.png",
    "https://cdn.example.com.evil.test/logos/a.png",
    "https://user@cdn.example.com/logos/a.png",
  ])
    expect([no, originListed(listed, no)]).toEqual([no, false]);
});
