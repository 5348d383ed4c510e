import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import nuxtCloudflare from "@nuxt/image/runtime/providers/cloudflare";
import nuxtImgix from "@nuxt/image/runtime/providers/imgix";
import nuxtIpx from "@nuxt/image/runtime/providers/ipx";
import * as unpicCloudflare from "unpic/providers/cloudflare";
import * as unpicImgix from "unpic/providers/imgix";
import * as unpicIpx from "unpic/providers/ipx";
import * as unpicNext from "unpic/providers/nextjs";
import { decode, makeImage, pixel } from "../helpers/images.ts";
import { ROOT, type TestServer, form, startServer } from "../helpers/server.ts";

// Every compatible URL shape against the same variant as its equivalent in imgd's own dialects
// (native where it can say the same, else Imgwire's parameters): same ETag, same bytes.

const WEBP = "image/webp,*/*";
let s: TestServer;
let privateId: string;
beforeAll(async () => {
  s = await startServer({ env: { IMGD_CDN_HOST: "cdn.imgd.test" } });
  const res = await s.api("/api/v1/images", {
    method: "POST",
    body: form({ file: { bytes: await makeImage(200, 150, "jpg"), filename: "photo.jpg" } }),
  });
  expect(res.status).toBe(201);
  const priv = await s.api("/api/v1/images", {
    method: "POST",
    body: form({ file: { bytes: await makeImage(40, 30, "jpg"), filename: "private.jpg" }, visibility: "private" }),
  });
  expect(priv.status).toBe(201);
  privateId = ((await priv.json()) as any).id;
});
afterAll(() => s.stop());

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url.startsWith("http") ? url : s.url + url, { headers });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { res, bytes };
}

const IW = "/imgwire/cdn/admin/photo.jpg";

/** [compatible URL, equivalent URL, format, width, height] */
const SAME: [string, string, string, number, number][] = [
  // IPX
  ["/_ipx/w_100/admin/photo.jpg", "/i/admin/photo.jpg?w=100&fit=scale-down", "jpeg", 100, 75],
  ["/_ipx/w_100,f_webp,q_60/admin/photo.jpg", "/i/admin/photo.webp?w=100&q=60&fit=scale-down", "webp", 100, 75],
  [
    "/_ipx/width_100&format_webp&quality_60/admin/photo.jpg",
    "/i/admin/photo.webp?w=100&q=60&fit=scale-down",
    "webp",
    100,
    75,
  ],
  ["/_ipx/h_50,f_png/admin/photo.jpg", "/i/admin/photo.png?h=50&fit=scale-down", "png", 67, 50],
  ["/_ipx/w_400/admin/photo.jpg", "/i/admin/photo.jpg?w=400&fit=scale-down", "jpeg", 200, 150],
  ["/_ipx/w_400,enlarge/admin/photo.jpg", "/i/admin/photo.jpg?w=400&fit=contain", "jpeg", 400, 300],
  ["/_ipx/s_80x80,f_webp/admin/photo.jpg", `${IW}?w=80&h=80&resizing_type=cover&format=webp`, "webp", 80, 80],
  [
    "/_ipx/s_80x40,pos_top,f_webp/admin/photo.jpg",
    `${IW}?w=80&h=40&resizing_type=cover&g=north&f=webp`,
    "webp",
    80,
    40,
  ],
  [
    "/_ipx/s_80x80,fit_contain,b_ff0000,f_jpeg/admin/photo.jpg",
    `${IW}?w=80&h=80&resizing_type=contain&bg=ff0000&f=jpeg`,
    "jpeg",
    80,
    80,
  ],
  ["/_ipx/extract_10_10_50_40,f_webp/admin/photo.jpg", `${IW}?crop=10:10:50:40&f=webp`, "webp", 50, 40],
  ["/_ipx/_/admin/photo.jpg", `${IW}?f=jpeg`, "jpeg", 200, 150],
  // Cloudflare
  ["/cdn-cgi/image/width=100/admin/photo.jpg", "/i/admin/photo.jpg?w=100&fit=scale-down", "jpeg", 100, 75],
  [
    "/cdn-cgi/image/width=100,height=100,fit=cover,format=webp/admin/photo.jpg",
    "/i/admin/photo.webp?w=100&h=100&fit=cover",
    "webp",
    100,
    100,
  ],
  [
    "/cdn-cgi/image/w=100,h=100,fit=contain,q=50,f=jpeg/admin/photo.jpg",
    "/i/admin/photo.jpg?w=100&h=100&fit=contain&q=50",
    "jpeg",
    100,
    75,
  ],
  [
    "/cdn-cgi/image/width=50,dpr=2,format=webp/admin/photo.jpg",
    "/i/admin/photo.webp?w=100&fit=scale-down",
    "webp",
    100,
    75,
  ],
  [
    "/cdn-cgi/image/width=100,height=100,fit=pad,background=%2300ff00,format=png/admin/photo.jpg",
    `${IW}?w=100&h=100&resizing_type=contain&el=true&bg=00ff00&f=png`,
    "png",
    100,
    100,
  ],
  [
    "/cdn-cgi/image/width=100,height=100,fit=squeeze/admin/photo.jpg",
    "/i/admin/photo.jpg?w=100&h=100&fit=fill",
    "jpeg",
    100,
    100,
  ],
  // imgix on /i/
  ["/i/admin/photo.jpg?w=100&fit=max", "/i/admin/photo.jpg?w=100&fit=scale-down", "jpeg", 100, 75],
  ["/i/admin/photo.jpg?w=100&h=100&fit=crop&fm=webp", "/i/admin/photo.webp?w=100&h=100&fit=cover", "webp", 100, 100],
  ["/i/admin/photo.jpg?w=100&h=100&fit=clip&fm=png", "/i/admin/photo.png?w=100&h=100&fit=contain", "png", 100, 75],
  ["/i/admin/photo.jpg?w=50&dpr=2&fm=webp&fit=max", "/i/admin/photo.webp?w=100&fit=scale-down", "webp", 100, 75],
  ["/i/admin/photo.jpg?w=100&h=100&fit=scale", "/i/admin/photo.jpg?w=100&h=100&fit=fill", "jpeg", 100, 100],
  [
    "/i/admin/photo.jpg?w=100&h=60&fit=crop&crop=top,left&fm=webp",
    `${IW}?w=100&h=60&resizing_type=cover&el=true&g=nw&f=webp`,
    "webp",
    100,
    60,
  ],
  ["/i/admin/photo.webp?w=100&h=100&fit=crop&q=40", "/i/admin/photo.webp?w=100&h=100&fit=cover&q=40", "webp", 100, 100],
  // Operations beyond resizing, on the Imgwire steps they map onto
  ["/_ipx/w_100,blur_3,f_webp/admin/photo.jpg", `${IW}?w=100&blur=3&f=webp`, "webp", 100, 75],
  ["/_ipx/w_100,sharpen_2,f_webp/admin/photo.jpg", `${IW}?w=100&sharpen=2&f=webp`, "webp", 100, 75],
  ["/_ipx/w_100,rotate_90,f_png/admin/photo.jpg", `${IW}?w=100&rotate=90&f=png`, "png", 75, 100],
  ["/_ipx/w_100,flip,f_png/admin/photo.jpg", `${IW}?w=100&flip=vertical&f=png`, "png", 100, 75],
  ["/_ipx/w_100,flip,flop,f_png/admin/photo.jpg", `${IW}?w=100&flip=both&f=png`, "png", 100, 75],
  ["/_ipx/w_100,grayscale,f_png/admin/photo.jpg", `${IW}?w=100&monochrome=true&f=png`, "png", 100, 75],
  ["/_ipx/w_100,negate,f_png/admin/photo.jpg", `${IW}?w=100&negate=true&f=png`, "png", 100, 75],
  ["/_ipx/w_100,normalize,f_png/admin/photo.jpg", `${IW}?w=100&normalize=true&f=png`, "png", 100, 75],
  [
    "/_ipx/w_100,modulate_1.2_0.5_90,f_webp/admin/photo.jpg",
    `${IW}?w=100&brightness=1.2&saturation=0.5&hue=90&f=webp`,
    "webp",
    100,
    75,
  ],
  ["/_ipx/w_100,kernel_nearest,f_png/admin/photo.jpg", `${IW}?w=100&ra=nearest&f=png`, "png", 100, 75],
  ["/_ipx/w_100,extend_5_5_5_5,f_png/admin/photo.jpg", `${IW}?w=100&padding=5&f=png`, "png", 110, 85],
  ["/cdn-cgi/image/width=100,blur=10,format=webp/admin/photo.jpg", `${IW}?w=100&blur=5&f=webp`, "webp", 100, 75],
  ["/cdn-cgi/image/width=100,rotate=90,format=png/admin/photo.jpg", `${IW}?w=100&rotate=90&f=png`, "png", 75, 100],
  ["/cdn-cgi/image/width=100,flip=h,format=png/admin/photo.jpg", `${IW}?w=100&flip=horizontal&f=png`, "png", 100, 75],
  ["/cdn-cgi/image/width=100,brightness=1.5,format=webp/admin/photo.jpg", `${IW}?w=100&br=1.5&f=webp`, "webp", 100, 75],
  ["/cdn-cgi/image/width=100,sharpen=2,format=webp/admin/photo.jpg", `${IW}?w=100&sharpen=2&f=webp`, "webp", 100, 75],
  ["/i/admin/photo.jpg?w=100&fit=max&blur=100&fm=webp", `${IW}?w=100&blur=5&f=webp`, "webp", 100, 75],
  ["/i/admin/photo.jpg?w=100&fit=max&sharp=40&fm=webp", `${IW}?w=100&sharpen=2&f=webp`, "webp", 100, 75],
  // Next.js (negotiated: this client accepts WebP)
  [
    "/_next/image?url=%2Fadmin%2Fphoto.jpg&w=100&q=75",
    "/i/admin/photo.webp?w=100&q=75&fit=scale-down",
    "webp",
    100,
    75,
  ],
  [
    "/_next/image?url=%2Fi%2Fadmin%2Fphoto.jpg&w=100&q=75",
    "/i/admin/photo.webp?w=100&q=75&fit=scale-down",
    "webp",
    100,
    75,
  ],
];

describe("each shape gives the same variant as its equivalent", () => {
  for (const [compat, native, format, width, height] of SAME) {
    test(compat, async () => {
      const a = await get(compat, { accept: WEBP });
      const b = await get(native, { accept: WEBP });
      expect({ status: a.res.status, body: a.res.status === 200 ? "" : new TextDecoder().decode(a.bytes) }).toEqual({
        status: 200,
        body: "",
      });
      expect(b.res.status).toBe(200);
      expect(a.res.headers.get("etag")).toBe(b.res.headers.get("etag")!);
      expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
      const d = await decode(a.bytes);
      expect([d.format, d.width, d.height]).toEqual([format, width, height]);
      expect(a.res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    });
  }

  test("the operations change the pixels as they say (flip mirrors, grayscale is grey, negate inverts)", async () => {
    const px = async (url: string, x: number, y: number) => pixel((await get(url)).bytes, x, y);
    const plain = "/_ipx/w_100,f_png/admin/photo.jpg";
    // The gradient runs red left → right and green top → bottom.
    const [top, bottom] = [await px(plain, 50, 0), await px(plain, 50, 74)];
    const flipped = await px("/_ipx/w_100,flip,f_png/admin/photo.jpg", 50, 0);
    expect(Math.abs(flipped[1] - bottom[1])).toBeLessThan(12);
    expect(Math.abs(flipped[1] - top[1])).toBeGreaterThan(100);
    const [l, r] = [await px(plain, 0, 40), await px(plain, 99, 40)];
    const flopped = await px("/cdn-cgi/image/width=100,flip=h,format=png/admin/photo.jpg", 0, 40);
    expect(Math.abs(flopped[0] - r[0])).toBeLessThan(12);
    expect(Math.abs(flopped[0] - l[0])).toBeGreaterThan(100);
    const grey = await px("/_ipx/w_100,grayscale,f_png/admin/photo.jpg", 80, 20);
    expect(grey.length === 1 || (grey[0] === grey[1] && grey[1] === grey[2])).toBe(true);
    const neg = await px("/_ipx/w_100,negate,f_png/admin/photo.jpg", 50, 0);
    expect(Math.abs(neg[0] + top[0] - 255)).toBeLessThan(12);
  });

  test("absolute Next.js URL of this server; another host is refused", async () => {
    const own = await get(`/_next/image?url=${encodeURIComponent(`${s.url}/i/admin/photo.jpg`)}&w=100&q=75`, {
      accept: "*/*",
    });
    expect(own.res.status).toBe(200);
    expect((await decode(own.bytes)).format).toBe("jpeg");
    expect(own.res.headers.get("vary")).toBe("Accept");
    const other = await get(`/_next/image?url=${encodeURIComponent("http://example.com/a.jpg")}&w=100`);
    expect(other.res.status).toBe(400);
  });

  test("img-src's host-based path on IMGD_CDN_HOST, and only there", async () => {
    const viaHost = await get("/admin/photo.jpg?w=100&fit=scale-down", { host: "cdn.imgd.test" });
    const native = await get("/i/admin/photo.jpg?w=100&fit=scale-down");
    expect(viaHost.res.status).toBe(200);
    expect(viaHost.res.headers.get("etag")).toBe(native.res.headers.get("etag")!);
    expect(Buffer.from(viaHost.bytes).equals(Buffer.from(native.bytes))).toBe(true);
    // Again, from the remembered answer.
    const again = await get("/admin/photo.jpg?w=100&fit=scale-down", { host: "cdn.imgd.test" });
    expect(again.res.headers.get("etag")).toBe(native.res.headers.get("etag")!);
    // Elsewhere the path is not an image (the dashboard answers it).
    expect((await get("/admin/photo.jpg")).res.headers.get("content-type")).not.toStartWith("image/");
  });

  test("compatible shapes serve public images only; imgix options on /i/ are signed like native ones", async () => {
    expect((await get("/_ipx/w_20/admin/private.jpg")).res.status).toBe(403);
    expect((await get("/cdn-cgi/image/width=20/admin/private.jpg")).res.status).toBe(403);
    expect((await get("/i/admin/private.jpg?w=20&fm=webp")).res.status).toBe(403);
    const signed = (await (
      await s.api(`/api/v1/images/${privateId}/signed-url`, {
        method: "POST",
        body: JSON.stringify({ options: "w=20&fm=webp" }),
      })
    ).json()) as any;
    const r = await get(signed.signed_url);
    expect(r.res.status).toBe(200);
    expect((await decode(r.bytes)).format).toBe("webp");
  });
});

describe("what does not map cleanly is a 400 naming the option", () => {
  const CASES: [string, string][] = [
    ["/_ipx/trim_10/admin/photo.jpg", "trim"],
    ["/_ipx/median_3/admin/photo.jpg", "median"],
    ["/_ipx/foo_1/admin/photo.jpg", "foo"],
    ["/_ipx/s_axb/admin/photo.jpg", "s"],
    ["/_ipx/fit_squash,s_10x10/admin/photo.jpg", "fit"],
    ["/_ipx/w_0/admin/photo.jpg", "w"],
    ["/_ipx/f_heif/admin/photo.jpg", "f"],
    ["/_ipx/w_10/photo.jpg", "path"],
    ["/cdn-cgi/image/format=json/admin/photo.jpg", "format"],
    ["/cdn-cgi/image/trim=10/admin/photo.jpg", "trim"],
    ["/cdn-cgi/image/width/admin/photo.jpg", "width"],
    ["/cdn-cgi/image/width=abc/admin/photo.jpg", "width"],
    ["/cdn-cgi/image/gravity=0.2x0.8/admin/photo.jpg", "gravity"],
    ["/i/admin/photo.jpg?w=10&fit=facearea", "fit"],
    ["/i/admin/photo.jpg?fit=fillmax", "fit"],
    ["/i/admin/photo.jpg?w=10&crop=faces", "crop"],
    ["/i/admin/photo.jpg?w=10&auto=enhance", "auto"],
    ["/i/admin/photo.jpg?fm=webp&size=s", "size"],
    ["/i/admin/photo.jpg?fm=tiff", "fm"],
    ["/_next/image?url=%2Fadmin%2Fphoto.jpg", "w"],
    ["/_next/image?url=%2Fadmin%2Fphoto.jpg&w=10&fit=cover", "fit"],
  ];
  for (const [url, field] of CASES) {
    test(url, async () => {
      const r = await get(url);
      const body = JSON.parse(new TextDecoder().decode(r.bytes));
      expect({ status: r.res.status, code: body.error.code }).toEqual({ status: 400, code: "VALIDATION_ERROR" });
      expect(body.error.message.startsWith(`${field}:`)).toBe(true);
    });
  }
});

describe("URL builders of Nuxt Image and unpic make URLs that imgd serves", () => {
  test("the README's Next.js loader, as written there", async () => {
    const readme = await Bun.file(`${ROOT}/README.md`).text();
    const code = /```js\n\/\/ imgd-loader\.js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(code).toBeDefined();
    const loader = new Function(
      code!.replace("export default function", "return function").replace("https://images.example.com", s.url),
    )() as (p: { src: string; width: number; quality?: number }) => string;
    const url = loader({ src: "/admin/photo.jpg", width: 120 });
    expect(url).toBe(`${s.url}/i/admin/photo.jpg?w=120&q=75&f=auto`);
    const r = await get(url, { accept: WEBP });
    expect(r.res.status).toBe(200);
    const d = await decode(r.bytes);
    expect([d.format, d.width, d.height]).toEqual(["webp", 120, 90]);
  });

  const base = () => s.url;
  const BUILT: [string, () => string, string, number, number][] = [
    [
      "Nuxt Image ipx, width and height",
      () =>
        nuxtIpx().getImage(
          "/admin/photo.jpg",
          {
            modifiers: { width: 80, height: 60, format: "webp", fit: "cover", quality: 70 },
            baseURL: `${base()}/_ipx`,
          } as any,
          {} as any,
        ).url,
      "webp",
      80,
      60,
    ],
    [
      "Nuxt Image ipx, width only",
      () =>
        nuxtIpx().getImage(
          "/admin/photo.jpg",
          { modifiers: { width: 90 }, baseURL: `${base()}/_ipx` } as any,
          {} as any,
        ).url,
      "jpeg",
      90,
      68,
    ],
    [
      "Nuxt Image cloudflare",
      () =>
        nuxtCloudflare().getImage(
          "/admin/photo.jpg",
          {
            modifiers: { width: 70, height: 70, fit: "cover", format: "webp" },
            baseURL: base(),
          } as any,
          {} as any,
        ).url,
      "webp",
      70,
      70,
    ],
    [
      "Nuxt Image imgix",
      () =>
        nuxtImgix().getImage(
          "/admin/photo.jpg",
          {
            modifiers: { width: 60, height: 60, fit: "cover", format: "png" },
            baseURL: `${base()}/i`,
          } as any,
          {} as any,
        ).url,
      "png",
      60,
      60,
    ],
    [
      "unpic ipx",
      () => unpicIpx.transform("/admin/photo.jpg", { width: 100, height: 50 }, { baseURL: `${base()}/_ipx` }) as string,
      "webp",
      100,
      50,
    ],
    [
      "unpic ipx, width only",
      () => unpicIpx.transform("/admin/photo.jpg", { width: 120 }, { baseURL: `${base()}/_ipx` }) as string,
      "webp",
      120,
      90,
    ],
    [
      "unpic cloudflare",
      () => base() + unpicCloudflare.generate("/admin/photo.jpg", { width: 64, height: 48 }),
      "webp",
      64,
      48,
    ],
    [
      "unpic imgix",
      () => unpicImgix.generate(`${base()}/i/admin/photo.jpg`, { width: 50, height: 50 }) as string,
      "webp",
      50,
      50,
    ],
    [
      "unpic nextjs",
      () => unpicNext.generate("/admin/photo.jpg", { width: 128, quality: 60 }, { baseUrl: base() }) as string,
      "webp",
      128,
      96,
    ],
  ];
  for (const [name, build, format, width, height] of BUILT) {
    test(name, async () => {
      const url = build();
      const r = await get(url, { accept: WEBP });
      expect({
        url,
        status: r.res.status,
        body: r.res.status === 200 ? "" : new TextDecoder().decode(r.bytes),
      }).toEqual({
        url,
        status: 200,
        body: "",
      });
      const d = await decode(r.bytes);
      expect([d.format, d.width, d.height]).toEqual([format, width, height]);
    });
  }
});
