import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { buildWeb, OUT } from "../../scripts/build-web.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

// The dashboard's assets: the committed bundle is what web/src builds to, its script stays
// under 150 KB gzipped, and the server serves the page and the assets (no CDN, nothing from
// the network) while every other path keeps its old answer.

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(() => s.stop());

test("web/dist/bundle.gen.ts is fresh: npm run build:web reproduces it", async () => {
  const { text, scriptGzipBytes } = await buildWeb();
  const committed = await readFile(OUT, "utf8");
  expect(committed === text ? "fresh" : "stale: run npm run build:web").toBe("fresh");
  expect(scriptGzipBytes).toBeLessThan(150 * 1024);
}, 60_000);

test("every page route serves the same HTML, whose script and stylesheet are served from the binary's bundle", async () => {
  const pages = [
    "/",
    "/login",
    "/setup",
    "/library",
    "/library?tag=x",
    "/image/0192",
    "/keys",
    "/usage",
    "/environments",
  ];
  let html = "";
  for (const p of pages) {
    const res = await fetch(s.url + p);
    expect({ p, status: res.status, type: res.headers.get("content-type") }).toEqual({
      p,
      status: 200,
      type: "text/html; charset=UTF-8",
    });
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(res.headers.get("cache-control")).toBe("no-store");
    html = await res.text();
  }
  const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
  // Only our own assets: no CDN, no absolute URL.
  expect(refs.every((r) => r.startsWith("/assets/"))).toBe(true);
  const script = refs.find((r) => r.endsWith(".js"))!;
  let gzipTotal = 0;
  for (const ref of refs) {
    const res = await fetch(s.url + ref, { headers: { "accept-encoding": "gzip" }, decompress: false } as RequestInit);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(res.headers.get("content-encoding")).toBe("gzip");
    const gz = new Uint8Array(await res.arrayBuffer());
    if (ref === script) gzipTotal += gz.length;
    const plain = await (await fetch(s.url + ref, { headers: { "accept-encoding": "identity" } })).arrayBuffer();
    expect(gunzipSync(gz).equals(Buffer.from(plain))).toBe(true);
  }
  expect((await fetch(s.url + script)).headers.get("content-type")).toBe("text/javascript; charset=utf-8");
  // The first load's JavaScript, as it crosses the wire.
  expect(gzipTotal).toBeGreaterThan(10 * 1024);
  expect(gzipTotal).toBeLessThan(150 * 1024);
  // The bundle names no host: nothing is fetched from the network at run time. (Uppy's tus
  // plugin names its documentation in a console warning.)
  const js = await (await fetch(s.url + script)).text();
  expect(js).not.toMatch(/https?:\/\/(?!www\.w3\.org|uppy\.io\/docs\/)[a-z0-9.-]+\.[a-z]{2,}\//i);
});

test("other paths keep their answers: unknown paths and assets are JSON 404s, the APIs still need a key", async () => {
  for (const p of ["/nope", "/assets/nope.js", "/library.json", "/api/v1/nope"]) {
    const res = await fetch(s.url + p);
    expect({ p, status: res.status }).toEqual({ p, status: p.startsWith("/api/") ? 401 : 404 });
    expect(res.headers.get("content-type")).toContain("application/json");
  }
  expect((await fetch(`${s.url}/api/v1/images`)).status).toBe(401);
  expect((await fetch(`${s.url}/health`)).status).toBe(200);
  expect((await (await fetch(`${s.url}/auth/session`)).json()).error.code).toBe("UNAUTHORIZED");
  expect(await (await fetch(`${s.url}/auth/config`)).json()).toEqual({ registration: "closed" });
});
