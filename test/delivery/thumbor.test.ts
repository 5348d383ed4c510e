import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Thumbor from "thumbor-js-url-builder";
import { pixelDistance } from "../helpers/compare.ts";
import { decode, makeImage, pixel } from "../helpers/images.ts";
import { type TestServer, startServer } from "../helpers/server.ts";
import { secondTenant, upload } from "../security/access-helpers.ts";

// thumbor URLs as thumbor-js-url-builder makes them, against imgd's own dialects: same size,
// the same pixels (within encoders' noise); the HMAC checked as thumbor checks it.

const KEY = "MY_SECURE_KEY";
const IMAGE = "i/admin/photo.jpg";

let s: TestServer;
let unsafe: TestServer;
let otherKey: string;
beforeAll(async () => {
  [s, unsafe] = await Promise.all([
    startServer({ env: { IMGD_THUMBOR_KEY: KEY } }),
    startServer({ env: { IMGD_THUMBOR_UNSAFE: "true", IMGD_IMGPROXY: "off" } }),
  ]);
  for (const server of [s, unsafe])
    await upload(server, undefined, await makeImage(200, 150, "jpg"), "photo.jpg", "public");
  await upload(s, undefined, await makeImage(40, 30, "jpg"), "secret.jpg", "private");
  otherKey = await secondTenant(s, "mallory");
});
afterAll(() => Promise.all([s.stop(), unsafe.stop()]));

/** A fresh builder each time (the library keeps its state between URLs). */
const thumbor = (image = IMAGE, key: string | null = KEY, server = s) =>
  new Thumbor(key, `${server.url}/thumbor`).setImagePath(image);

async function get(u: string, key?: string) {
  const res = await fetch(u.startsWith("http") ? u : s.url + u, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}

const IW = "/imgwire/cdn/admin/photo.jpg";
type Builder = ReturnType<typeof thumbor>;

/** [what the builder is told, equivalent imgd URL, format, width, height] */
const SAME: [string, (t: Builder) => Builder, string, string, number, number][] = [
  ["resize(100,0)", (t) => t.resize(100, 0), "/i/admin/photo.jpg?w=100&fit=scale-down", "jpeg", 100, 75],
  ["resize(100,100)", (t) => t.resize(100, 100), "/i/admin/photo.jpg?w=100&h=100&fit=cover", "jpeg", 100, 100],
  ["resize(400,0): enlarged", (t) => t.resize(400, 0), "/i/admin/photo.jpg?w=400&fit=contain", "jpeg", 400, 300],
  [
    "resize(400,0) no_upscale()",
    (t) => t.resize(400, 0).filter("no_upscale()"),
    "/i/admin/photo.jpg?w=400&fit=scale-down",
    "jpeg",
    200,
    150,
  ],
  ["fitIn(100,100)", (t) => t.fitIn(100, 100), "/i/admin/photo.jpg?w=100&h=100&fit=scale-down", "jpeg", 100, 75],
  [
    "fitIn(100,100) fill(ff0000) format(png)",
    (t) => t.fitIn(100, 100).filter("fill(ff0000):format(png)"),
    `${IW}?w=100&h=100&resizing_type=contain&bg=ff0000&f=png`,
    "png",
    100,
    100,
  ],
  [
    "resize(80,40) valign(top)",
    (t) => t.resize(80, 40).valign("top").filter("format(webp)"),
    `${IW}?w=80&h=40&resizing_type=cover&el=true&g=north&f=webp`,
    "webp",
    80,
    40,
  ],
  [
    "resize(80,40) halign(left) valign(bottom)",
    (t) => t.resize(40, 40).halign("left").valign("bottom").filter("format(png)"),
    `${IW}?w=40&h=40&resizing_type=cover&el=true&g=sw&f=png`,
    "png",
    40,
    40,
  ],
  [
    "crop(10,10,110,90) resize(50,0)",
    (t) => t.crop(10, 10, 110, 90).resize(50, 0).filter("format(png)"),
    `${IW}?c=10:10:100:80&w=50&f=png`,
    "png",
    50,
    40,
  ],
  [
    "smart resize(60,60)",
    (t) => t.resize(60, 60).smartCrop(true).filter("format(png)"),
    `${IW}?w=60&h=60&resizing_type=cover&el=true&g=attention&f=png`,
    "png",
    60,
    60,
  ],
  [
    "flipHorizontally resize(100,0)",
    (t) => t.resize(100, 0).flipHorizontally().filter("format(png)"),
    `${IW}?w=100&fl=horizontal&f=png`,
    "png",
    100,
    75,
  ],
  [
    "quality(50) format(webp)",
    (t) => t.resize(100, 0).filter("quality(50):format(webp)"),
    "/i/admin/photo.webp?w=100&q=50&fit=scale-down",
    "webp",
    100,
    75,
  ],
  [
    "blur(4,2) grayscale()",
    (t) => t.resize(100, 0).filter("blur(4,2):grayscale():format(png)"),
    `${IW}?w=100&bl=2&mc=true&f=png`,
    "png",
    100,
    75,
  ],
  [
    "rotate(90): counter-clockwise",
    (t) => t.resize(100, 0).filter("rotate(90):format(png):strip_exif()"),
    `${IW}?w=100&rot=270&f=png`,
    "png",
    75,
    100,
  ],
];

describe("thumbor URLs from thumbor-js-url-builder", () => {
  for (const [what, build, equivalent, format, width, height] of SAME) {
    test(`${what} = ${equivalent}`, async () => {
      const u = build(thumbor()).buildUrl();
      const [got, want] = [await get(u), await get(equivalent)];
      expect(got.res.status, `${u}\n${new TextDecoder().decode(got.bytes)}`).toBe(200);
      expect(want.res.status).toBe(200);
      expect(await decode(got.bytes)).toMatchObject({ format, width, height });
      expect(await decode(want.bytes)).toMatchObject({ format, width, height });
      expect(await pixelDistance(got.bytes, want.bytes)).toBeLessThan(4);
    });
  }

  test("an absolute URL of this host as the image, plain or encoded", async () => {
    const native = await get("/i/admin/photo.jpg?w=100&fit=scale-down");
    for (const image of [`${s.url}/i/admin/photo.jpg`, encodeURIComponent(`${s.url}/i/admin/photo.jpg`)]) {
      const u = thumbor(image).resize(100, 0).buildUrl();
      const got = await get(u);
      expect(got.res.status, u).toBe(200);
      expect(await decode(got.bytes)).toMatchObject({ format: "jpeg", width: 100, height: 75 });
      expect(await pixelDistance(got.bytes, native.bytes)).toBeLessThan(4);
    }
    const fill = await get(thumbor().fitIn(100, 100).filter("fill(00ff00):format(png)").buildUrl());
    expect(await pixel(fill.bytes, 50, 2)).toEqual([0, 255, 0]);
  });

  test("wrong or missing signatures are refused; unsafe only where allowed", async () => {
    const good = thumbor().resize(100, 0).buildUrl();
    const [sig, ...rest] = good.slice(`${s.url}/thumbor/`.length).split("/");
    for (const bad of [
      `/thumbor/${sig.replace(/^./, sig[0] === "A" ? "B" : "A")}/${rest.join("/")}`,
      `/thumbor/${rest.join("/")}`,
      `/thumbor/unsafe/${rest.join("/")}`,
      thumbor(IMAGE, "another key").resize(100, 0).buildUrl(),
      // The HMAC covers the options: another width is another URL.
      `/thumbor/${sig}/${rest.join("/").replace("100x0", "101x0")}`,
    ]) {
      const got = await get(bad);
      expect(got.res.status, bad).toBe(403);
      expect(((await new Response(got.bytes).json()) as any).error.code).toBe("FORBIDDEN");
    }
    const open = await get(thumbor(IMAGE, null, unsafe).resize(100, 0).buildUrl());
    expect(open.res.status).toBe(200);
    expect(await decode(open.bytes)).toMatchObject({ width: 100, height: 75 });
    // A signed URL cannot verify where no key is set.
    expect((await get(thumbor(IMAGE, KEY, unsafe).resize(100, 0).buildUrl())).res.status).toBe(403);
    // IMGD_IMGPROXY=off there: no imgproxy routes.
    expect((await get(`${unsafe.url}/imgproxy/insecure/w:10/plain/local:///admin/photo.jpg`)).res.status).toBe(404);
  });

  test("what imgd cannot honour is a 400 naming it; a foreign image is refused unfetched", async () => {
    for (const [build, name] of [
      [(t: Builder) => t.resize(100, 0).filter("watermark(x.png,0,0,0)"), "watermark"],
      [(t: Builder) => t.resize("orig" as never, 50), "size"],
      [(t: Builder) => t.metaDataOnly(true), "meta"],
      [(t: Builder) => t.resize(100, 0).filter("fill(blur)"), "fill"],
    ] as [(t: Builder) => Builder, string][]) {
      const got = await get(build(thumbor()).buildUrl());
      expect(got.res.status, name).toBe(400);
      expect(((await new Response(got.bytes).json()) as any).error.message).toStartWith(`${name}:`);
    }
    for (const image of ["http://example.com/i/admin/photo.jpg", "admin/photo.jpg"]) {
      expect((await get(thumbor(image).resize(10, 0).buildUrl())).res.status, image).toBe(400);
    }
  });

  test("attacker: a private image, by a validly signed URL, only for its owner", async () => {
    for (const image of ["i/admin/secret.jpg", `${s.url}/i/admin/secret.jpg`]) {
      const u = thumbor(image).resize(20, 0).buildUrl();
      expect((await get(u)).res.status).toBe(403);
      expect((await get(u, otherKey)).res.status).toBe(403);
      const own = await get(u, s.adminKey);
      expect(own.res.status).toBe(200);
      expect(own.res.headers.get("cache-control")).toStartWith("private");
    }
  });
});
