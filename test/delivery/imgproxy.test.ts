import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateImageUrl } from "@imgproxy/imgproxy-node";
import { pixelDistance } from "../helpers/compare.ts";
import { decode, makeImage, pixel } from "../helpers/images.ts";
import { type TestServer, startServer } from "../helpers/server.ts";
import { secondTenant, upload } from "../security/access-helpers.ts";

// imgproxy URLs as its official builder makes them, against imgd's own dialects: same size, the
// same pixels (within encoders' noise); signatures checked as imgproxy checks them.

const KEY = "943b421c9eb07c830af81030552c86009268de4e532ba2ee2eab8247c6da0881";
const SALT = "520f986b998545b4785e0defbc4f3c1203f22de2374a3d53cb7a7fe9fea309c5";
const LOCAL = "local:///admin/photo.jpg";

let s: TestServer;
let insecure: TestServer;
let otherKey: string;
beforeAll(async () => {
  [s, insecure] = await Promise.all([
    startServer({ env: { IMGD_IMGPROXY_KEY: KEY, IMGD_IMGPROXY_SALT: SALT, IMGD_THUMBOR: "off" } }),
    startServer({ env: { IMGD_IMGPROXY_INSECURE: "true" } }),
  ]);
  for (const server of [s, insecure])
    await upload(server, undefined, await makeImage(200, 150, "jpg"), "photo.jpg", "public");
  await upload(s, undefined, await makeImage(40, 30, "jpg"), "secret.jpg", "private");
  const preset = await s.api("/api/v1/settings/presets", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "thumb", params: { w: 20, h: 20, fit: "cover" } }),
  });
  expect(preset.status).toBe(201);
  otherKey = await secondTenant(s, "mallory");
});
afterAll(() => Promise.all([s.stop(), insecure.stop()]));

type Options = Parameters<typeof generateImageUrl>[0]["options"];
const url = (options: Options, source = LOCAL, displayAs: "plain" | "base64" = "plain", server = s) =>
  generateImageUrl({
    endpoint: `${server.url}/imgproxy`,
    url: { value: source, displayAs },
    options,
    key: KEY,
    salt: SALT,
  });

async function get(u: string, key?: string) {
  const res = await fetch(u.startsWith("http") ? u : s.url + u, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}

const IW = "/imgwire/cdn/admin/photo.jpg";

/** [imgproxy options, equivalent imgd URL, format, width, height] */
const SAME: [Options, string, string, number, number][] = [
  [{ width: 100 }, "/i/admin/photo.jpg?w=100&fit=scale-down", "jpeg", 100, 75],
  [{ width: 100, format: "webp", quality: 60 }, "/i/admin/photo.webp?w=100&q=60&fit=scale-down", "webp", 100, 75],
  [
    { resize: { resizing_type: "fill", width: 100, height: 80 } },
    "/i/admin/photo.jpg?w=100&h=80&fit=cover",
    "jpeg",
    100,
    80,
  ],
  [
    { size: { width: 50, height: 50 }, resizing_type: "force" },
    "/i/admin/photo.jpg?w=50&h=50&fit=fill",
    "jpeg",
    50,
    50,
  ],
  [{ width: 400 }, "/i/admin/photo.jpg?w=400&fit=scale-down", "jpeg", 200, 150],
  [{ width: 400, enlarge: 1 }, "/i/admin/photo.jpg?w=400&fit=contain", "jpeg", 400, 300],
  [{ width: 50, dpr: 2, format: "png" }, "/i/admin/photo.png?w=100&fit=scale-down", "png", 100, 75],
  [
    { resize: { resizing_type: "fill", width: 80, height: 40 }, gravity: { type: "no" }, format: "webp" },
    `${IW}?w=80&h=40&resizing_type=cover&g=north&f=webp`,
    "webp",
    80,
    40,
  ],
  [
    { resize: { resizing_type: "fill", width: 60, height: 60 }, gravity: { type: "fp", x: 0.2, y: 0.3 } },
    `${IW}?w=60&h=60&resizing_type=cover&g=fp:0.2:0.3&f=jpeg`,
    "jpeg",
    60,
    60,
  ],
  [
    { resize: { resizing_type: "fill", width: 60, height: 60 }, gravity: { type: "sm" }, format: "png" },
    `${IW}?w=60&h=60&resizing_type=cover&g=attention&f=png`,
    "png",
    60,
    60,
  ],
  [
    { crop: { width: 100, height: 100, gravity: { type: "nowe" } }, width: 50, format: "png" },
    `${IW}?c=100:100:nowe&w=50&f=png`,
    "png",
    50,
    50,
  ],
  [
    {
      resize: { resizing_type: "fit", width: 100, height: 100 },
      extend: { extend: 1 },
      background: "ff0000",
      format: "png",
    },
    `${IW}?w=100&h=100&resizing_type=contain&bg=ff0000&f=png`,
    "png",
    100,
    100,
  ],
  [{ width: 100, rotate: 90, format: "png" }, `${IW}?w=100&rot=90&f=png`, "png", 75, 100],
  [{ width: 100, flip: { horizontal: true }, format: "png" }, `${IW}?w=100&fl=horizontal&f=png`, "png", 100, 75],
  [{ width: 100, blur: 2, sharpen: 1, format: "png" }, `${IW}?w=100&bl=2&sh=1&f=png`, "png", 100, 75],
  [{ width: 80, padding: 10, background: "00ff00", format: "png" }, `${IW}?w=80&pd=10&bg=00ff00&f=png`, "png", 100, 80],
  [{ preset: ["thumb"] }, "/i/admin/photo.jpg?p:thumb", "jpeg", 20, 20],
];

describe("imgproxy URLs from @imgproxy/imgproxy-node", () => {
  for (const [options, equivalent, format, width, height] of SAME) {
    test(`${JSON.stringify(options)} = ${equivalent}`, async () => {
      const u = url(options);
      const [got, want] = [await get(u), await get(equivalent)];
      expect(got.res.status, `${u}\n${new TextDecoder().decode(got.bytes)}`).toBe(200);
      expect(want.res.status).toBe(200);
      expect(await decode(got.bytes)).toMatchObject({ format, width, height });
      expect(await decode(want.bytes)).toMatchObject({ format, width, height });
      expect(await pixelDistance(got.bytes, want.bytes)).toBeLessThan(4);
    });
  }

  test("the base64 source, an absolute URL of this host, and @ext / .ext", async () => {
    const own = `${s.url}/i/admin/photo.jpg`;
    const native = await get("/i/admin/photo.webp?w=100&fit=scale-down");
    for (const u of [
      url({ width: 100, format: "webp" }, own, "base64"),
      url({ width: 100, format: "webp" }, own, "plain"),
      url({ width: 100 }, `${LOCAL}@webp`, "plain"),
    ]) {
      const got = await get(u);
      expect(got.res.status, u).toBe(200);
      expect(await decode(got.bytes)).toMatchObject({ format: "webp", width: 100, height: 75 });
      // One variant for every way of asking.
      expect(got.res.headers.get("etag"), u).toBe(native.res.headers.get("etag"));
    }
    // The cache buster changes the URL, not the image.
    const cb = await get(url({ width: 100, format: "webp", cachebuster: "v2" }));
    expect(cb.res.headers.get("etag")).toBe(native.res.headers.get("etag"));
    const bg = await get(url({ width: 80, padding: 10, background: "00ff00", format: "png" }));
    expect(await pixel(bg.bytes, 2, 2)).toEqual([0, 255, 0]);
  });

  test("wrong, missing or truncated signatures are refused; insecure only where allowed", async () => {
    const good = url({ width: 100 });
    const path = good.slice(`${s.url}/imgproxy/`.length);
    const [sig, ...rest] = path.split("/");
    for (const bad of [
      `/imgproxy/${sig.slice(0, -2)}AA/${rest.join("/")}`,
      `/imgproxy/${sig.slice(0, 20)}/${rest.join("/")}`,
      `/imgproxy/${rest.join("/")}`,
      `/imgproxy/insecure/${rest.join("/")}`,
      // The signature covers the options: another width is another URL.
      `/imgproxy/${sig}/${rest.join("/").replace("w:100", "w:101")}`,
    ]) {
      const got = await get(bad);
      expect(got.res.status, bad).toBe(403);
      expect(((await new Response(got.bytes).json()) as any).error.code).toBe("FORBIDDEN");
    }
    // Without a key, insecure URLs where the operator allows them; signed ones cannot verify.
    const open = await get(`${insecure.url}/imgproxy/insecure/w:100/plain/${LOCAL}`);
    expect(open.res.status).toBe(200);
    expect(await decode(open.bytes)).toMatchObject({ width: 100, height: 75 });
    expect((await get(url({ width: 100 }, LOCAL, "plain", insecure))).res.status).toBe(403);
  });

  test("what imgd cannot honour is a 400 naming it; a foreign source is refused unfetched", async () => {
    for (const [options, name] of [
      [{ zoom: 2 }, "z"],
      [{ resizing_type: "auto", width: 50 }, "rt"],
      [{ format: "best" }, "f"],
      [{ trim: { threshold: 10 } }, "t"],
    ] as [Options, string][]) {
      const got = await get(url(options));
      expect(got.res.status, name).toBe(400);
      expect(((await new Response(got.bytes).json()) as any).error.message).toStartWith(`${name}:`);
    }
    for (const source of ["http://example.com/i/admin/photo.jpg", "s3://bucket/photo.jpg", "local:///admin"]) {
      expect((await get(url({ width: 10 }, source, "base64"))).res.status, source).toBe(400);
    }
  });

  test("attacker: a private image, by a validly signed URL, only for its owner", async () => {
    for (const source of [LOCAL.replace("photo", "secret"), `${s.url}/i/admin/secret.jpg`]) {
      const u = url({ width: 20 }, source, "base64");
      expect((await get(u)).res.status).toBe(403);
      expect((await get(u, otherKey)).res.status).toBe(403);
      const own = await get(u, s.adminKey);
      expect(own.res.status).toBe(200);
      expect(own.res.headers.get("cache-control")).toStartWith("private");
    }
  });

  test("a shape switched off has no routes (IMGD_THUMBOR=off here; thumbor's test switches imgproxy off)", async () => {
    expect((await get("/thumbor/unsafe/100x0/i/admin/photo.jpg")).res.status).toBe(404);
  });
});

describe("IMGD_TRANSFORMS=signed: the operator's signature is what lets a URL transform", () => {
  let strict: TestServer;
  beforeAll(async () => {
    strict = await startServer({
      env: { IMGD_IMGPROXY_KEY: KEY, IMGD_IMGPROXY_SALT: SALT, IMGD_TRANSFORMS: "signed" },
    });
    await upload(strict, undefined, await makeImage(200, 150, "jpg"), "photo.jpg", "public");
    await upload(strict, undefined, await makeImage(40, 30, "jpg"), "secret.jpg", "private");
  });
  afterAll(() => strict.stop());

  test("a signed imgproxy URL is resized; the same resize unsigned (native, IPX) is refused; a private image stays closed", async () => {
    const signed = await get(url({ width: 100, format: "webp" }, LOCAL, "plain", strict));
    expect(signed.res.status).toBe(200);
    const out = await decode(signed.bytes);
    expect([out.format, out.width, out.height]).toEqual(["webp", 100, 75]);
    expect((await get(`${strict.url}/i/admin/photo.webp?w=100`)).res.status).toBe(403);
    expect((await get(`${strict.url}/_ipx/w_100,f_webp/admin/photo.jpg`)).res.status).toBe(403);
    // The signature is the server's, not the tenant's: it opens no private image.
    expect((await get(url({ width: 20 }, "local:///admin/secret.jpg", "plain", strict))).res.status).toBe(403);
  });
});
