import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decode, makeImage } from "../helpers/images.ts";
import { type TestServer, form, startServer } from "../helpers/server.ts";

// Issue 23, headers and hosts: every image answer says nosniff and carries a CSP that lets
// nothing run (an SVG opened as a document included), on every delivery shape and on 304s;
// without IMGD_PUBLIC_URL an arbitrary Host never ends up in a page (the Host header is only a
// header: every request here goes to 127.0.0.1).

const STRICT = "default-src 'none'; style-src 'unsafe-inline'; sandbox";
const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><script>alert(1)</script><rect width="40" height="20" fill="red"/></svg>`;

let s: TestServer;
let photoId: string;
let svgPath: string;
beforeAll(async () => {
  s = await startServer();
  const res = await s.api("/v1/upload", {
    method: "POST",
    body: form({ file: { bytes: await makeImage(200, 150, "png"), filename: "photo.jpg" } }),
  });
  expect(res.status).toBe(201);
  photoId = ((await res.json()) as any).id;
  const native = await s.api("/api/v1/images", {
    method: "POST",
    body: form({ file: { bytes: await makeImage(200, 150, "png"), filename: "photo.jpg" } }),
  });
  expect(((await native.json()) as any).paths).toContain("photo.jpg");
  const svg = await s.api("/api/v1/images", {
    method: "POST",
    body: form({ file: { bytes: new TextEncoder().encode(SVG), filename: "logo.svg" } }),
  });
  expect(svg.status).toBe(201);
  svgPath = ((await svg.json()) as any).paths[0];
});
afterAll(() => s.stop());

function expectSafe(res: Response, what: string) {
  expect({ what, nosniff: res.headers.get("x-content-type-options") }).toEqual({ what, nosniff: "nosniff" });
  expect({ what, csp: res.headers.get("content-security-policy") }).toEqual({ what, csp: STRICT });
}

describe("image answers", () => {
  test("nosniff and a strict CSP on every delivery shape, original, placeholder and 304", async () => {
    const shapes: [string, string, number][] = [
      ["native original", "/i/admin/photo.jpg", 200],
      ["img.pro src", `/i/admin/${photoId}.webp`, 200],
      ["native variant", `/i/admin/photo.jpg?w=50&fm=png`, 50],
      ["imgix", `/i/admin/photo.jpg?w=60&fm=png&fit=max`, 60],
      ["Imgwire CDN", `/imgwire/cdn/admin/photo.jpg?w=70&f=png`, 70],
      ["IPX", `/_ipx/w_80,f_png/admin/photo.jpg`, 80],
      ["Cloudflare", `/cdn-cgi/image/width=90,format=png/admin/photo.jpg`, 90],
      ["Next.js", `/_next/image?url=${encodeURIComponent("/i/admin/photo.jpg")}&w=96&q=75`, 96],
    ];
    for (const [what, path, width] of shapes) {
      const res = await fetch(s.url + path);
      expect({ what, status: res.status }).toEqual({ what, status: 200 });
      expectSafe(res, what);
      // The answer is the image asked for, not an error page with the headers.
      expect((await decode(new Uint8Array(await res.arrayBuffer()))).width).toBe(width);
      // The same headers on the 304 (and on the hot path's answer to a repeat).
      const again = await fetch(s.url + path, { headers: { "if-none-match": res.headers.get("etag")! } });
      expect({ what, status: again.status }).toEqual({ what, status: 304 });
      expectSafe(again, `${what} 304`);
    }
    const placeholder = await fetch(`${s.url}/i/admin/photo.jpg?placeholder`);
    expect(placeholder.status).toBe(200);
    expectSafe(placeholder, "placeholder");
    // Refusals too: a missing image's error is no page to run.
    const missing = await fetch(`${s.url}/i/admin/nope.jpg?w=10`);
    expect(missing.status).toBe(404);
    expectSafe(missing, "404");
  });

  test("an SVG and what is made from it cannot run a script", async () => {
    const original = await fetch(`${s.url}/i/admin/${svgPath}`);
    expect(original.status).toBe(200);
    expectSafe(original, "svg original");
    const raster = await fetch(`${s.url}/i/admin/${svgPath}?w=20&fm=png`);
    expect(raster.status).toBe(200);
    expectSafe(raster, "svg as png");
    expect(await decode(new Uint8Array(await raster.arrayBuffer()))).toMatchObject({ format: "png", width: 20 });
  });
});

describe("the Host header", () => {
  test("an arbitrary Host is never reflected into a cacheable page; our own names are", async () => {
    const evil = await fetch(`${s.url}/p/${photoId}`, { headers: { host: "evil.example" } });
    expect(evil.status).toBe(200);
    const body = await evil.text();
    expect(body).not.toContain("evil.example");
    // The page falls back to the address imgd listens on.
    expect(body).toContain(`<meta property="og:url" content="${s.url}/p/${photoId}">`);
    expect(evil.headers.get("x-content-type-options")).toBe("nosniff");
    expect(evil.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(evil.headers.get("content-security-policy")).not.toContain("script-src");
    // A loopback name imgd answers as is used as sent (on the listening port).
    const port = new URL(s.url).port;
    const local = await (await fetch(`${s.url}/p/${photoId}`, { headers: { host: `localhost:${port}` } })).text();
    expect(local).toContain(`content="http://localhost:${port}/p/${photoId}"`);
    // A loopback name on another port is not believed either.
    const other = await (await fetch(`${s.url}/p/${photoId}`, { headers: { host: "localhost:1" } })).text();
    expect(other).not.toContain("localhost:1/");
    // API answers build their URLs the same way.
    const item = await s.api(`/v1/media/${photoId}`, { headers: { host: "evil.example" } });
    expect(item.status).toBe(200);
    const json = JSON.stringify(await item.json());
    expect(json).not.toContain("evil.example");
    expect(json).toContain(`${s.url}/p/${photoId}`);
  });
});
