import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import ImgixClient from "@imgix/js-core";
import { pixelDistance } from "../helpers/compare.ts";
import { decode, makeImage } from "../helpers/images.ts";
import { type TestServer, startServer } from "../helpers/server.ts";
import { secondTenant, upload } from "../security/access-helpers.ts";

// imgix URLs signed with a secure URL token (IMGD_IMGIX_TOKEN), as @imgix/js-core makes them:
// served like the native URL of the same geometry; unsigned or tampered ones refused.

const TOKEN = "aBcDeFgHiJkLmNoP";

let s: TestServer;
let otherKey: string;
beforeAll(async () => {
  s = await startServer({ env: { IMGD_IMGIX_TOKEN: TOKEN } });
  await upload(s, undefined, await makeImage(200, 150, "jpg"), "photo.jpg", "public");
  await upload(s, undefined, await makeImage(40, 30, "jpg"), "secret.jpg", "private");
  otherKey = await secondTenant(s, "mallory");
});
afterAll(() => s.stop());

/** The builder wants a host name; the signature covers only the path and query, so the origin is swapped for the server's. */
const build = (path: string, params: Record<string, string | number>, token: string = TOKEN) =>
  new ImgixClient({ domain: "imgd.example.com", secureURLToken: token, useHTTPS: false })
    .buildURL(path, params)
    .replace("http://imgd.example.com", s.url);

async function get(u: string, key?: string) {
  const res = await fetch(u.startsWith("http") ? u : s.url + u, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}

describe("imgix URLs signed by @imgix/js-core", () => {
  test("signed URLs are served as the native URL of the same geometry", async () => {
    for (const [params, native, format, width, height] of [
      [{ w: 100, fm: "webp" }, "/i/admin/photo.webp?w=100&fit=contain", "webp", 100, 75],
      [{ w: 100, h: 100, fit: "crop" }, "/i/admin/photo.jpg?w=100&h=100&fit=cover", "jpeg", 100, 100],
      [{ w: 400, fit: "max" }, "/i/admin/photo.jpg?w=400&fit=scale-down", "jpeg", 200, 150],
    ] as [Record<string, string | number>, string, string, number, number][]) {
      const u = build("/i/admin/photo.jpg", params);
      expect(u).toContain("s=");
      expect(u).toContain("ixlib=");
      const [got, want] = [await get(u), await get(native)];
      expect(got.res.status, `${u}\n${new TextDecoder().decode(got.bytes)}`).toBe(200);
      expect(await decode(got.bytes)).toMatchObject({ format, width, height });
      expect(await pixelDistance(got.bytes, want.bytes)).toBeLessThan(4);
    }
  });

  test("unsigned, wrongly signed or tampered imgix URLs are refused; native URLs are not imgix's", async () => {
    const good = build("/i/admin/photo.jpg", { w: 100, fm: "webp" });
    for (const bad of [
      "/i/admin/photo.jpg?w=100&fm=webp",
      good.replace(/s=[0-9a-f]+/, "s=00000000000000000000000000000000"),
      good.replace("w=100", "w=101"),
      build("/i/admin/photo.jpg", { w: 100, fm: "webp" }, "another-token"),
      build("/i/admin/other.jpg", { w: 100, fm: "webp" }).replace("other.jpg", "photo.jpg"),
    ]) {
      const got = await get(bad);
      expect(got.res.status, bad).toBe(403);
      expect(((await new Response(got.bytes).json()) as any).error.code).toBe("FORBIDDEN");
    }
    // Twice the same good URL: the remembered answer too.
    for (let i = 0; i < 2; i++) expect((await get(good)).res.status).toBe(200);
    expect((await get("/i/admin/photo.jpg?w=100&fit=scale-down")).res.status).toBe(200);
  });

  test("attacker: a private image, by a validly signed imgix URL, only for its owner", async () => {
    const u = build("/i/admin/secret.jpg", { w: 20, fm: "png" });
    expect((await get(u)).res.status).toBe(403);
    expect((await get(u, otherKey)).res.status).toBe(403);
    const own = await get(u, s.adminKey);
    expect(own.res.status).toBe(200);
    expect(own.res.headers.get("cache-control")).toStartWith("private");
  });
});
