import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as unpicCloudflare from "unpic/providers/cloudflare";
import * as unpicIpx from "unpic/providers/ipx";
import { decode, makeImage } from "../helpers/images.ts";
import { type TestServer, startServer } from "../helpers/server.ts";
import { secondTenant, upload } from "../security/access-helpers.ts";

// The one source resolver behind IPX, Cloudflare and Next.js URLs: imgd's own URLs (`/i/…`, and
// absolute ones on its own host) as unpic passes them on, the same variant as the native URL;
// other hosts refused before anything is fetched; private images only for their owner.

let s: TestServer;
let otherKey: string;
let host: string;
beforeAll(async () => {
  s = await startServer();
  host = new URL(s.url).host;
  await upload(s, undefined, await makeImage(200, 150, "jpg"), "photo.jpg", "public");
  await upload(s, undefined, await makeImage(40, 30, "jpg"), "secret.jpg", "private");
  otherKey = await secondTenant(s, "mallory");
});
afterAll(() => s.stop());

async function get(path: string, key?: string) {
  const res = await fetch(s.url + path, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}

describe("imgd's own URLs as sources", () => {
  test("the issue's two URLs: IPX with /i/, Cloudflare with an absolute URL of this host", async () => {
    const native = await get("/i/admin/photo.webp?w=200&fit=scale-down");
    expect(native.res.status).toBe(200);
    for (const url of [
      "/_ipx/w_200,f_webp/i/admin/photo.jpg",
      `/cdn-cgi/image/width=200,f=webp,fit=scale-down/http://${host}/i/admin/photo.jpg`,
      `/cdn-cgi/image/width=200,f=webp,fit=scale-down/${encodeURIComponent(`http://${host}/i/admin/photo.jpg`)}`,
      `/_ipx/w_200,f_webp/http://${host}/i/admin/photo.jpg`,
    ]) {
      const got = await get(url);
      expect(got.res.status, url).toBe(200);
      expect(await decode(got.bytes)).toMatchObject({ format: "webp", width: 200, height: 150 });
      // One variant for every way of asking.
      expect(got.res.headers.get("etag"), url).toBe(native.res.headers.get("etag"));
    }
    const cover = await get(`/cdn-cgi/image/width=200,f=webp,fit=cover/http://${host}/i/admin/photo.jpg`);
    expect(cover.res.status).toBe(200);
    expect(await decode(cover.bytes)).toMatchObject({ format: "webp", width: 200, height: 150 });
  });

  test("unpic's providers, given the URLs imgd returns", async () => {
    const own = `${s.url}/i/admin/photo.jpg`;
    const ipx = unpicIpx.transform(own, { width: 100, format: "webp" }, { baseURL: `${s.url}/_ipx` });
    const cf = unpicCloudflare.transform(own, { width: 100, format: "webp" }, { domain: host });
    for (const url of [String(ipx), String(cf).replace(/^https:/, "http:")]) {
      const res = await fetch(url);
      expect(res.status, url).toBe(200);
      expect(await decode(new Uint8Array(await res.arrayBuffer()))).toMatchObject({ format: "webp", width: 100 });
    }
  });

  test("another host, or a scheme imgd does not read, is refused without a fetch", async () => {
    for (const url of [
      "/_ipx/w_200/http://example.com/i/admin/photo.jpg",
      "/cdn-cgi/image/width=200/https://example.com/i/admin/photo.jpg",
      `/cdn-cgi/image/width=200/ftp://${host}/i/admin/photo.jpg`,
      `/_next/image?url=${encodeURIComponent("http://example.com/i/admin/photo.jpg")}&w=100`,
      // imgproxy's local:// is imgproxy's alone.
      "/_ipx/w_200/local:///admin/photo.jpg",
    ]) {
      const got = await get(url);
      expect(got.res.status, url).toBe(400);
      expect(((await new Response(got.bytes).json()) as any).error.code).toBe("VALIDATION_ERROR");
    }
  });

  test("attacker: a private image through any source form, without the owner's rights, is refused", async () => {
    const forms = [
      "/_ipx/w_20/i/admin/secret.jpg",
      "/_ipx/w_20/admin/secret.jpg",
      `/_ipx/w_20/http://${host}/i/admin/secret.jpg`,
      `/cdn-cgi/image/width=20/http://${host}/i/admin/secret.jpg`,
      "/cdn-cgi/image/width=20/i/admin/secret.jpg",
      `/_next/image?url=${encodeURIComponent(`http://${host}/i/admin/secret.jpg`)}&w=20`,
      `/_next/image?url=${encodeURIComponent("/i/admin/secret.jpg")}&w=20`,
    ];
    for (const url of forms) {
      expect((await get(url)).res.status, url).toBe(403);
      expect((await get(url, otherKey)).res.status, url).toBe(403);
      // The owner's own key sees it.
      const own = await get(url, s.adminKey);
      expect(own.res.status, url).toBe(200);
      expect(own.res.headers.get("cache-control"), url).toStartWith("private");
    }
  });
});
