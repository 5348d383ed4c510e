// Every input format imgd reads, uploaded through the native, img.pro and Imgwire routes and
// delivered as WebP, AVIF, JPEG and PNG at 200 px; then hostile files of each format of our own
// decoders (truncated, lying about their size, over the pixel limit) refused with no trace.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import sharp from "sharp";
import { client, sha256 } from "../imgwire/helpers.ts";
import { fixture, form, startServer, type TestServer } from "../helpers/server.ts";
import { snapshot } from "../helpers/store.ts";
import * as S from "./samples.ts";

const W = 240;
const H = 180;
let s: TestServer;
const samples: Record<
  string,
  {
    bytes: Uint8Array;
    file: string;
    mime: string;
    imgwireMime: string;
    w: number;
    h: number;
    alpha: boolean;
    frames: number;
  }
> = {};

beforeAll(async () => {
  s = await startServer({ env: { IMGD_MAX_SOURCE_PIXELS: "2000000" } });
  const px = S.pattern(W, H, true);
  const add = (
    name: string,
    file: string,
    bytes: Uint8Array,
    mime: string,
    alpha: boolean,
    imgwireMime = mime,
    w = W,
    h = H,
    frames = 1,
  ) => (samples[name] = { bytes, file, mime, imgwireMime, w, h, alpha, frames });
  add("BMP 24-bit", "a.bmp", S.bmp(px, W, H, 24), "image/bmp", false);
  add("BMP 32-bit top-down", "b.bmp", S.bmp(px, W, H, 32, true), "image/bmp", false);
  const png = await S.viaSharp(px, W, H, "png");
  add(
    "ICO with a PNG entry",
    "a.ico",
    S.ico([
      { rgba: S.pattern(16, 16), width: 16, height: 16, bits: 32 },
      { png, width: W, height: H },
    ]),
    "image/x-icon",
    true,
    "image/vnd.microsoft.icon",
  );
  add(
    "ICO with BMP entries",
    "b.ico",
    S.ico([
      { rgba: S.pattern(32, 32), width: 32, height: 32, bits: 24 },
      { rgba: px, width: W, height: H, bits: 32 },
    ]),
    "image/x-icon",
    true,
    "image/vnd.microsoft.icon",
  );
  add("TGA (RLE)", "a.tga", await S.tga(px, W, H), "image/x-tga", true, "image/png");
  add("QOI", "a.qoi", S.qoi(px, W, H, 4), "image/qoi", true, "image/png");
  add("PPM", "a.ppm", S.pnm(px, W, H, ".ppm"), "image/x-portable-pixmap", false, "image/png");
  add("PGM", "a.pgm", S.pnm(px, W, H, ".pgm"), "image/x-portable-graymap", false, "image/png");
  add("PAM", "a.pam", S.pam(px, W, H), "image/x-portable-arbitrarymap", true, "image/png");
  add("Radiance HDR", "a.hdr", S.hdr(px, W, H), "image/vnd.radiance", false, "image/png");
  add("TIFF", "a.tiff", await S.viaSharp(px, W, H, "tiff"), "image/tiff", true);
  // heif-enc's 10-bit HEVC, stored 120×160 with EXIF orientation 6: upright it is 160×120.
  add(
    "HEIC (10-bit HEVC, EXIF orientation 6)",
    "a.heic",
    await fixture("iphone-like-10bit-orientation-6.heic"),
    "image/heic",
    false,
    "image/heic",
    160,
    120,
  );
  // Animated: the WebP output stays animated (10 frames); the others take the first frame.
  for (const [file, mime] of [
    ["animated-loop-3.gif", "image/gif"],
    ["animated-loop-3.webp", "image/webp"],
  ] as const) {
    const bytes = await fixture(file);
    add(`animated ${file}`, file, bytes, mime, (await sharp(bytes).metadata()).hasAlpha!, mime, 370, 285, 10);
  }
});
afterAll(() => s?.stop());

const OUT = [
  ["webp", "webp", "image/webp"],
  ["avif", "heif", "image/avif"],
  ["jpg", "jpeg", "image/jpeg"],
  ["png", "png", "image/png"],
] as const;

/** `frames`: what the output must hold (an animated source stays animated only in WebP and GIF). */
async function expectImage(
  res: Response,
  mime: string,
  format: string,
  width: number,
  height: number,
  what: string,
  frames = 1,
) {
  expect({ what, status: res.status, type: res.headers.get("content-type") }).toEqual({
    what,
    status: 200,
    type: mime,
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const meta = await sharp(bytes, { animated: true }).metadata();
  const pages = meta.pages ?? 1;
  expect({ what, format: meta.format as string, width: meta.width, height: meta.height! / pages, pages }).toEqual({
    what,
    format,
    width,
    height,
    pages: frames,
  });
  return bytes;
}
const framesOut = (format: string, frames: number) => (format === "webp" || format === "gif" ? frames : 1);

describe("every input format, every route, every web output", () => {
  test.each(Array.from({ length: 14 }, (_, i) => i))(
    "sample %d",
    async (i) => {
      const [name, sm] = Object.entries(samples)[i]!;
      const h200 = Math.round((200 * sm.h) / sm.w);

      // Native: upload, metadata, then the four outputs at 200 px.
      const up = await s.api("/api/v1/images", {
        method: "POST",
        body: form({ file: { bytes: sm.bytes, filename: sm.file } }),
      });
      expect({ name, status: up.status }).toEqual({ name, status: 201 });
      const native = (await up.json()) as any;
      const meta = (await (await s.api(`/api/v1/images/${native.id}`)).json()) as any;
      expect({
        name,
        mime: meta.metadata.mime_type,
        w: meta.metadata.width,
        h: meta.metadata.height,
        frames: meta.metadata.frames,
        alpha: meta.metadata.has_alpha,
      }).toEqual({ name, mime: sm.mime, w: sm.w, h: sm.h, frames: sm.frames, alpha: sm.alpha });
      const path = native.url.slice(native.url.indexOf("/i/"));
      const stem = path.slice(0, path.lastIndexOf("."));
      for (const [ext, format, mime] of OUT) {
        await expectImage(
          await fetch(`${s.url}${stem}.${ext}?w=200`),
          mime,
          format,
          200,
          h200,
          `${name} native .${ext}`,
          framesOut(format, sm.frames),
        );
      }
      // The file's own name: a format browsers do not show is converted to WebP, whole.
      if (!sm.file.startsWith("animated"))
        await expectImage(await fetch(s.url + path), "image/webp", "webp", sm.w, sm.h, `${name} own name`);

      // img.pro: its own item, its src URL with other extensions.
      const ip = await s.api("/v1/upload", {
        method: "POST",
        body: form({ file: { bytes: sm.bytes, filename: sm.file } }),
      });
      expect({ name, status: ip.status }).toEqual({ name, status: 201 });
      const item = (await ip.json()) as any;
      expect([item.width, item.height]).toEqual([sm.w, sm.h]);
      const src = (item.src as string).replace(/\.[a-z]+$/, "");
      for (const [ext, format, mime] of OUT) {
        await expectImage(
          await fetch(`${src}.${ext}?w=200&q=75`),
          mime,
          format,
          200,
          h200,
          `${name} img.pro .${ext}`,
          framesOut(format, sm.frames),
        );
      }

      // Imgwire: standard upload + PUT ends READY with the real type; the CDN's format parameter.
      const call = client(s);
      const created = await call("POST", "/api/v1/images/standard_upload", "/api/v1/images/standard_upload", {
        json: { file_name: sm.file, content_length: sm.bytes.length, hash_sha256: sha256(sm.bytes) },
      });
      expect(created.status).toBe(200);
      const put = await fetch(created.body.upload_url, {
        method: "PUT",
        body: sm.bytes as BodyInit,
        headers: { "content-type": sm.mime },
      });
      expect({ name, put: put.status }).toEqual({ name, put: 200 });
      const got = await call("GET", "/api/v1/images/{image_id}", `/api/v1/images/${created.body.image.id}`);
      expect({
        name,
        status: got.body.status,
        mime: got.body.mime_type,
        w: got.body.width,
        h: got.body.height,
      }).toEqual({ name, status: "READY", mime: sm.imgwireMime, w: sm.w, h: sm.h });
      for (const [ext, format, mime] of [...OUT, ["tiff", "tiff", "image/tiff"] as const]) {
        await expectImage(
          await fetch(`${got.body.cdn_url}?width=200&format=${ext}&quality=70&enlarge=1`),
          mime,
          format,
          200,
          h200,
          `${name} Imgwire ${ext}`,
          framesOut(format, sm.frames),
        );
      }
    },
    120_000,
  );
});

test("a HEIC comes out upright: the stored top (red) is on the right after EXIF orientation 6", async () => {
  const up = (await (
    await s.api("/api/v1/images", {
      method: "POST",
      body: form({
        file: { bytes: samples["HEIC (10-bit HEVC, EXIF orientation 6)"]!.bytes, filename: "upright.heic" },
      }),
    })
  ).json()) as any;
  const stem = up.url.slice(up.url.indexOf("/i/"), up.url.lastIndexOf("."));
  const png = new Uint8Array(await (await fetch(`${s.url}${stem}.png`)).arrayBuffer());
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => [
    ...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3),
  ];
  expect([info.width, info.height]).toEqual([160, 120]);
  const [r, g] = at(150, 60);
  expect(r! - g!).toBeGreaterThan(150);
  const [r2, g2] = at(10, 60);
  expect(r2! - g2!).toBeLessThan(100);
});

test("TIFF output by .tiff (Imgwire's format=tiff: above), and .bmp/.heic/.svg URLs are a 400 naming the writable formats", async () => {
  const up = (await (
    await s.api("/api/v1/images", {
      method: "POST",
      body: form({ file: { bytes: await S.viaSharp(S.pattern(W, H), W, H, "png"), filename: "t.png" } }),
    })
  ).json()) as any;
  const stem = up.url.slice(up.url.indexOf("/i/"), up.url.lastIndexOf("."));
  await expectImage(await fetch(`${s.url}${stem}.tiff?w=200`), "image/tiff", "tiff", 200, 150, ".tiff");
  for (const ext of ["bmp", "heic", "svg", "ico", "tga"]) {
    const res = await fetch(`${s.url}${stem}.${ext}`);
    const body = (await res.json()) as any;
    expect({ ext, status: res.status, code: body.error.code }).toEqual({ ext, status: 400, code: "VALIDATION_ERROR" });
    expect(body.error.message).toContain(".webp, .avif, .jpg, .png, .jxl, .gif or .tiff");
  }
});

describe("hostile files of each new format: 4xx, nothing stored", () => {
  const px = S.pattern(64, 48);
  const big = 2000; // 2000×2000 = 4 MP, over IMGD_MAX_SOURCE_PIXELS (2 MP)
  const cases: [string, () => Promise<Uint8Array> | Uint8Array][] = [
    ["BMP truncated", () => S.bmp(px, 64, 48, 24).subarray(0, 2000)],
    [
      "BMP lying height",
      () => {
        const b = S.bmp(px, 64, 48, 24);
        new DataView(b.buffer).setInt32(22, 480, true);
        return b;
      },
    ],
    [
      "BMP oversized",
      () => {
        const b = S.bmp(px, 64, 48, 24);
        new DataView(b.buffer).setInt32(18, big, true);
        new DataView(b.buffer).setInt32(22, big, true);
        return b;
      },
    ],
    ["ICO truncated", () => S.ico([{ rgba: px, width: 64, height: 48, bits: 32 }]).subarray(0, 500)],
    [
      "ICO lying entry",
      () => {
        const b = S.ico([{ rgba: px, width: 64, height: 48, bits: 32 }]);
        new DataView(b.buffer).setInt32(6 + 16 + 8, 960, true);
        return b;
      },
    ],
    [
      "ICO oversized PNG entry",
      async () => {
        const png = await S.viaSharp(px, 64, 48, "png");
        new DataView(png.buffer, png.byteOffset).setUint32(16, big);
        new DataView(png.buffer, png.byteOffset).setUint32(20, big);
        return S.ico([{ png, width: 64, height: 48 }]);
      },
    ],
    ["TGA truncated", async () => (await S.tga(px, 64, 48)).subarray(0, 300)],
    [
      "TGA lying size",
      async () => {
        const b = await S.tga(px, 64, 48);
        b[14] = 0;
        b[15] = 4;
        return b;
      },
    ],
    [
      "TGA oversized",
      async () => {
        const b = await S.tga(px, 64, 48);
        b[12] = big & 255;
        b[13] = big >> 8;
        b[14] = big & 255;
        b[15] = big >> 8;
        return b;
      },
    ],
    ["QOI truncated", () => S.qoi(px, 64, 48, 3).subarray(0, 400)],
    [
      "QOI lying size",
      () => {
        const b = S.qoi(px, 64, 48, 3);
        new DataView(b.buffer).setUint32(8, 480);
        return b;
      },
    ],
    [
      "QOI oversized",
      () => {
        const b = S.qoi(px, 64, 48, 3);
        new DataView(b.buffer).setUint32(4, big);
        new DataView(b.buffer).setUint32(8, big);
        return b;
      },
    ],
    ["PAM truncated", () => S.pam(px, 64, 48).subarray(0, 3000)],
    ["PAM lying size", () => S.pam(px, 64, 48).map((v, i, a) => (i === 15 ? 0x39 : v))], // WIDTH 64 → 94
    [
      "PAM oversized",
      () => {
        const t = new TextEncoder().encode(
          `P7\nWIDTH ${big}\nHEIGHT ${big}\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n`,
        );
        return new Uint8Array([...t, ...px]);
      },
    ],
    ["PPM truncated", async () => S.pnm(px, 64, 48, ".ppm").subarray(0, 2000)],
    ["HDR truncated", () => S.hdr(px, 64, 48).subarray(0, 3000)],
    [
      "HDR oversized",
      () => {
        const t = new TextEncoder().encode(`#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y ${big} +X ${big}\n`);
        return new Uint8Array([...t, ...new Uint8Array(4000)]);
      },
    ],
    ["HEIC truncated", async () => (await fixture("iphone-like-10bit-orientation-6.heic")).subarray(0, 1200)],
    [
      "HEIC lying ispe",
      async () => {
        const b = await fixture("iphone-like-10bit-orientation-6.heic");
        const i = Buffer.from(b).indexOf("ispe");
        new DataView(b.buffer, b.byteOffset).setUint32(i + 8, 1200);
        return b;
      },
    ],
    [
      "HEIC oversized",
      async () => {
        const b = await fixture("iphone-like-10bit-orientation-6.heic");
        const i = Buffer.from(b).indexOf("ispe");
        new DataView(b.buffer, b.byteOffset).setUint32(i + 8, big);
        new DataView(b.buffer, b.byteOffset).setUint32(i + 12, big);
        return b;
      },
    ],
    [
      "EXR (refused: no maintained wasm decoder)",
      () => new Uint8Array([0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0, ...new Uint8Array(200)]),
    ],
  ];
  for (const [name, make] of cases) {
    test(name, async () => {
      const bytes = await make();
      const before = snapshot(s.dataDir);
      const res = await s.api("/api/v1/images", {
        method: "POST",
        body: form({ file: { bytes, filename: "bad.bin" } }),
      });
      const body = (await res.json()) as any;
      expect({ name, status: res.status, code: body.error?.code }).toEqual({ name, status: 400, code: "INVALID_FILE" });
      if (name.startsWith("EXR")) expect(body.error.message).toContain("OpenEXR is not supported");
      for (let i = 0; i < 50 && JSON.stringify(snapshot(s.dataDir)) !== JSON.stringify(before); i++)
        await Bun.sleep(20);
      expect(snapshot(s.dataDir)).toEqual(before);
    }, 30_000);
  }
});

test("the upload error names the real supported formats", async () => {
  const res = await s.api("/api/v1/images", {
    method: "POST",
    body: form({
      file: { bytes: new TextEncoder().encode("plain text, not a picture at all".repeat(5)), filename: "x.jpg" },
    }),
  });
  const body = (await res.json()) as any;
  expect(body.error.message).toContain("TGA, QOI, PNM (PBM, PGM, PPM, PAM) and Radiance HDR");
});
