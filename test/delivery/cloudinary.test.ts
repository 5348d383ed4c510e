import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Cloudinary } from "@cloudinary/url-gen";
import type { CloudinaryImage } from "@cloudinary/url-gen";
import { dpr, format, quality } from "@cloudinary/url-gen/actions/delivery";
import { blur, grayscale } from "@cloudinary/url-gen/actions/effect";
import { name } from "@cloudinary/url-gen/actions/namedTransformation";
import { crop, fill, fit as fitIn, limitFit, pad, scale } from "@cloudinary/url-gen/actions/resize";
import { byRadius } from "@cloudinary/url-gen/actions/roundCorners";
import { byAngle } from "@cloudinary/url-gen/actions/rotate";
import { color } from "@cloudinary/url-gen/qualifiers/background";
import { northEast } from "@cloudinary/url-gen/qualifiers/compass";
import { auto, png, webp } from "@cloudinary/url-gen/qualifiers/format";
import { autoGravity, compass } from "@cloudinary/url-gen/qualifiers/gravity";
import { pixelDistance } from "../helpers/compare.ts";
import { decode, makeImage, pixel } from "../helpers/images.ts";
import { type TestServer, startServer } from "../helpers/server.ts";
import { secondTenant, upload } from "../security/access-helpers.ts";

// Cloudinary delivery URLs as @cloudinary/url-gen makes them (the cloud name being the tenant),
// against imgd's own dialects: same size, the same pixels (within encoders' noise).

let s: TestServer;
let off: TestServer;
let otherKey: string;
beforeAll(async () => {
  [s, off] = await Promise.all([startServer({ env: { IMGD_CLOUDINARY: "on" } }), startServer()]);
  for (const server of [s, off])
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
afterAll(() => Promise.all([s.stop(), off.stop()]));

/** url-gen for this server: its secure distribution is imgd's host (the scheme put back to http). */
const image = (publicId = "photo.jpg", server = s) =>
  new Cloudinary({
    cloud: { cloudName: "admin" },
    url: { secure: true, secureDistribution: new URL(server.url).host },
  }).image(publicId);
const urlOf = (img: CloudinaryImage) => img.toURL().replace(/^https:/, "http:");

async function get(u: string, key?: string) {
  const res = await fetch(u.startsWith("http") ? u : s.url + u, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}

const IW = "/imgwire/cdn/admin/photo.jpg";

/** [what url-gen is told, equivalent imgd URL, format, width, height] */
const SAME: [string, (i: CloudinaryImage) => CloudinaryImage, string, string, number, number][] = [
  ["scale w 100", (i) => i.resize(scale().width(100)), "/i/admin/photo.jpg?w=100&fit=contain", "jpeg", 100, 75],
  [
    "fill 100×80 webp",
    (i) => i.resize(fill().width(100).height(80)).delivery(format(webp())),
    "/i/admin/photo.webp?w=100&h=80&fit=cover",
    "webp",
    100,
    80,
  ],
  [
    "fill g_auto png",
    (i) => i.resize(fill().width(60).height(60).gravity(autoGravity())).delivery(format(png())),
    `${IW}?w=60&h=60&resizing_type=cover&el=true&g=attention&f=png`,
    "png",
    60,
    60,
  ],
  [
    "fit 100×100",
    (i) => i.resize(fitIn().width(100).height(100)),
    "/i/admin/photo.jpg?w=100&h=100&fit=contain",
    "jpeg",
    100,
    75,
  ],
  ["limit 400", (i) => i.resize(limitFit().width(400)), "/i/admin/photo.jpg?w=400&fit=scale-down", "jpeg", 200, 150],
  [
    "scale 50×50: stretched",
    (i) => i.resize(scale().width(50).height(50)),
    "/i/admin/photo.jpg?w=50&h=50&fit=fill",
    "jpeg",
    50,
    50,
  ],
  [
    "pad 100×100 red",
    (i) => i.resize(pad().width(100).height(100).background(color("red"))).delivery(format(png())),
    `${IW}?w=100&h=100&resizing_type=contain&el=true&bg=ff0000&f=png`,
    "png",
    100,
    100,
  ],
  [
    "crop north-east, then limit",
    (i) => i.resize(crop().width(100).height(80).gravity(compass(northEast()))).resize(limitFit().width(50)),
    `${IW}?c=100:80:noea&w=50&f=jpeg`,
    "jpeg",
    50,
    40,
  ],
  [
    "blur, grayscale, rotate, dpr",
    (i) =>
      i
        .resize(scale().width(50))
        .effect(blur().strength(40))
        .effect(grayscale())
        .rotate(byAngle(90))
        .delivery(dpr(2))
        .delivery(format(png())),
    `${IW}?w=100&el=true&bl=2&mc=true&rot=90&f=png`,
    "png",
    75,
    100,
  ],
  [
    "q 50, the extension's format",
    (i) => i.resize(scale().width(100)).delivery(quality(50)),
    "/i/admin/photo.jpg?w=100&q=50&fit=contain",
    "jpeg",
    100,
    75,
  ],
  [
    "t_ named transformation",
    (i) => i.namedTransformation(name("thumb")),
    "/i/admin/photo.jpg?p:thumb",
    "jpeg",
    20,
    20,
  ],
];

describe("Cloudinary URLs from @cloudinary/url-gen", () => {
  for (const [what, build, equivalent, fmt, width, height] of SAME) {
    test(`${what} = ${equivalent}`, async () => {
      const u = urlOf(build(image()));
      const [got, want] = [await get(u), await get(equivalent)];
      expect(got.res.status, `${u}\n${new TextDecoder().decode(got.bytes)}`).toBe(200);
      expect(want.res.status).toBe(200);
      expect(await decode(got.bytes)).toMatchObject({ format: fmt, width, height });
      expect(await decode(want.bytes)).toMatchObject({ format: fmt, width, height });
      expect(await pixelDistance(got.bytes, want.bytes)).toBeLessThan(4);
    });
  }

  test("public ids without an extension, or with another one; f_ wins; f_auto negotiates", async () => {
    const bare = await get(urlOf(image("photo").resize(scale().width(100))));
    expect(bare.res.status).toBe(200);
    expect(await decode(bare.bytes)).toMatchObject({ format: "jpeg", width: 100 });
    const webpByExt = await get(urlOf(image("photo.webp").resize(scale().width(100))));
    expect(await decode(webpByExt.bytes)).toMatchObject({ format: "webp", width: 100 });
    const fWins = await get(urlOf(image("photo.jpg").resize(scale().width(100)).delivery(format(png()))));
    expect(await decode(fWins.bytes)).toMatchObject({ format: "png", width: 100 });
    const negotiated = await fetch(urlOf(image("photo.jpg").resize(scale().width(100)).delivery(format(auto()))), {
      headers: { accept: "image/webp,*/*" },
    });
    expect(negotiated.headers.get("vary")).toBe("Accept");
    expect(await decode(new Uint8Array(await negotiated.arrayBuffer()))).toMatchObject({ format: "webp" });
    const bg = await get(
      urlOf(
        image()
          .resize(pad().width(100).height(100).background(color("red")))
          .delivery(format(png())),
      ),
    );
    expect(await pixel(bg.bytes, 50, 2)).toEqual([255, 0, 0]);
  });

  test("what imgd cannot honour is a 400 naming it; off by default", async () => {
    const corners = await get(urlOf(image().roundCorners(byRadius(5))));
    expect(corners.res.status).toBe(400);
    expect(((await new Response(corners.bytes).json()) as any).error.message).toStartWith("r:");
    const twice = await get(urlOf(image().resize(scale().width(100)).resize(scale().width(50))));
    expect(twice.res.status).toBe(400);
    expect((await get(urlOf(image("photo.jpg", off).resize(scale().width(100))))).res.status).toBe(404);
  });

  test("attacker: a private image only for its owner; another tenant's cloud name is its own", async () => {
    const u = urlOf(image("secret.jpg").resize(scale().width(20)));
    expect((await get(u)).res.status).toBe(403);
    expect((await get(u, otherKey)).res.status).toBe(403);
    const own = await get(u, s.adminKey);
    expect(own.res.status).toBe(200);
    expect(own.res.headers.get("cache-control")).toStartWith("private");
    // mallory's cloud holds no photo.jpg: admin's image is not reachable by another cloud name.
    expect((await get(u.replace("/admin/", "/mallory/").replace("secret", "photo"))).res.status).toBe(404);
  });
});
