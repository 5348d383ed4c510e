// The transform pipeline through a real CodecPool: real workers, real wasm-vips, outputs
// decoded back with sharp (an independent libvips build).

import { afterAll, beforeAll, expect, test } from "bun:test";
import sharp from "sharp";
import { CodecPool } from "../../codecs/pool.ts";
import { probe } from "../../codecs/probe/index.ts";
import type { OutputFormat } from "../../codecs/types.ts";
import { decode, fixture, makePng, meanDiff, spec, codeOf } from "./helpers.ts";

const pool = new CodecPool({ size: 2, maxQueue: 50, jobTimeoutMs: 30_000, maxSourcePixels: 100_000_000 });
beforeAll(() => pool.start(), 30_000);
afterAll(() => pool.close());

const flowers = fixture("flowers.jpeg"); // 1920×1080

async function size(bytes: Uint8Array) {
  const d = await decode(bytes);
  return [d.width, d.height];
}

test("cover fills the box exactly", async () => {
  const r = await pool.transform(flowers, spec({ width: 200, height: 200, fit: "cover" }));
  expect([r.width, r.height]).toEqual([200, 200]);
  expect(await size(r.data)).toEqual([200, 200]);
});

test("contain pads to the exact box with the background", async () => {
  const r = await pool.transform(
    flowers,
    spec({ width: 200, height: 200, fit: "contain", background: [255, 0, 0, 255] }),
  );
  const d = await decode(r.data);
  expect([d.width, d.height]).toEqual([200, 200]);
  // 1920×1080 → 200×113, centred: 43 rows of padding above and 44 below.
  expect(d.px(100, 2).slice(0, 3)).toEqual([255, 0, 0]);
  expect(d.px(100, 197).slice(0, 3)).toEqual([255, 0, 0]);
  expect(d.px(100, 100).slice(0, 3)).not.toEqual([255, 0, 0]);
});

test("contain with a transparent background adds alpha (PNG)", async () => {
  const r = await pool.transform(flowers, spec({ width: 100, height: 100, fit: "contain", background: [0, 0, 0, 0] }));
  const d = await decode(r.data);
  expect(d.channels).toBe(4);
  expect(d.px(50, 1)[3]).toBe(0);
  expect(d.px(50, 50)[3]).toBe(255);
});

test("inside, outside and fill", async () => {
  const inside = await pool.transform(flowers, spec({ width: 200, height: 200, fit: "inside" }));
  expect(await size(inside.data)).toEqual([200, 113]);
  const outside = await pool.transform(flowers, spec({ width: 200, height: 200, fit: "outside" }));
  expect(await size(outside.data)).toEqual([356, 200]);
  const fill = await pool.transform(flowers, spec({ width: 300, height: 50, fit: "fill" }));
  expect(await size(fill.data)).toEqual([300, 50]);
  const wOnly = await pool.transform(flowers, spec({ width: 300 }));
  expect(await size(wOnly.data)).toEqual([300, 169]);
});

test("enlarge: false never enlarges; enlarge: true does", async () => {
  const small = fixture("Landscape_1.jpg"); // 600×450
  for (const fit of ["cover", "contain", "inside", "outside", "fill"] as const) {
    const r = await pool.transform(small, spec({ width: 1200, height: 1000, fit, enlarge: false }));
    expect(r.width).toBeLessThanOrEqual(600);
    expect(r.height).toBeLessThanOrEqual(600);
  }
  const cover = await pool.transform(small, spec({ width: 800, height: 800, fit: "cover" }));
  expect(await size(cover.data)).toEqual([450, 450]);
  const big = await pool.transform(small, spec({ width: 800, height: 800, fit: "cover", enlarge: true }));
  expect(await size(big.data)).toEqual([800, 800]);
});

test("cover gravity picks the kept part; smart gravities give the exact box", async () => {
  // Top half red, bottom half blue.
  const src = await makePng(100, 200, (_x, y) => (y < 100 ? [255, 0, 0, 255] : [0, 0, 255, 255]));
  const north = await decode((await pool.transform(src, spec({ width: 50, height: 50, gravity: "north" }))).data);
  expect(north.px(25, 25).slice(0, 3)).toEqual([255, 0, 0]);
  const south = await decode((await pool.transform(src, spec({ width: 50, height: 50, gravity: "south" }))).data);
  expect(south.px(25, 25).slice(0, 3)).toEqual([0, 0, 255]);
  for (const gravity of ["attention", "entropy"] as const) {
    const r = await pool.transform(flowers, spec({ width: 300, height: 120, gravity, format: "jpeg" }));
    expect(await size(r.data)).toEqual([300, 120]);
  }
});

test("crop cuts a region of the upright source before resizing", async () => {
  // Left half green, right half blue.
  const src = await makePng(200, 100, (x) => (x < 100 ? [0, 255, 0, 255] : [0, 0, 255, 255]));
  const r = await pool.transform(src, spec({ crop: { left: 120, top: 10, width: 60, height: 60 }, width: 30 }));
  const d = await decode(r.data);
  expect([d.width, d.height]).toEqual([30, 30]);
  expect(d.px(15, 15).slice(0, 3)).toEqual([0, 0, 255]);
  // Crop combines with JPEG shrink-on-load: the region is mapped onto the shrunk decode.
  const j = await pool.transform(
    flowers,
    spec({ crop: { left: 960, top: 0, width: 960, height: 1080 }, width: 100, format: "jpeg" }),
  );
  const whole = await decode(
    (await pool.transform(flowers, spec({ width: 200, height: 113, fit: "fill", format: "png" }))).data,
  );
  const right = await decode(j.data);
  expect([right.width, right.height]).toEqual([100, 113]);
  // The crop's left column resembles the middle of the whole image.
  const a = right.px(2, 56),
    b = whole.px(102, 56);
  expect(Math.abs(a[0]! - b[0]!) + Math.abs(a[1]! - b[1]!) + Math.abs(a[2]! - b[2]!)).toBeLessThan(90);
});

const FORMATS: [OutputFormat, string][] = [
  ["webp", "webp"],
  ["avif", "heif"],
  ["jpeg", "jpeg"],
  ["png", "png"],
  ["gif", "gif"],
];

test("every output format decodes back at the reported size", async () => {
  const src = fixture("with-alpha.png"); // 256×192, small enough for AVIF
  for (const [format, sharpName] of FORMATS) {
    const r = await pool.transform(src, spec({ width: 120, format, quality: 70 }));
    expect({ format, w: r.width, h: r.height, f: r.format }).toEqual({ format, w: 120, h: 90, f: format });
    const meta = await sharp(r.data).metadata();
    expect({ format, got: meta.format as string, w: meta.width, h: meta.height }).toEqual({
      format,
      got: sharpName,
      w: 120,
      h: 90,
    });
    expect(r.mime).toBe(probe(r.data)!.mime);
  }
  // sharp's prebuilt libvips cannot read JPEG XL: the header is checked by probe instead.
  const jxl = await pool.transform(src, spec({ width: 120, format: "jxl" }));
  expect(probe(jxl.data)).toMatchObject({ format: "jxl", width: 120, height: 90 });
  expect(jxl.mime).toBe("image/jxl");
}, 30_000);

test("quality is honoured", async () => {
  const lo = await pool.transform(flowers, spec({ width: 400, format: "jpeg", quality: 20 }));
  const hi = await pool.transform(flowers, spec({ width: 400, format: "jpeg", quality: 95 }));
  expect(hi.data.length).toBeGreaterThan(lo.data.length * 2);
  const wlo = await pool.transform(flowers, spec({ width: 400, format: "webp", quality: 20 }));
  const whi = await pool.transform(flowers, spec({ width: 400, format: "webp", quality: 95 }));
  expect(whi.data.length).toBeGreaterThan(wlo.data.length * 2);
});

test("PNG output is lossless", async () => {
  const src = await makePng(64, 48, (x, y) => [x * 4, y * 5, (x * y) & 255, 255]);
  const r = await pool.transform(src, spec({ format: "png" }));
  expect(meanDiff(await decode(r.data), await decode(src))).toBe(0);
});

test("EXIF orientations come out upright", async () => {
  const ref = await decode((await pool.transform(fixture("Landscape_1.jpg"), spec({ format: "png" }))).data);
  expect([ref.width, ref.height]).toEqual([600, 450]);
  for (const n of [3, 6, 8]) {
    const r = await pool.transform(fixture(`Landscape_${n}.jpg`), spec({ format: "png" }));
    const d = await decode(r.data);
    expect([n, d.width, d.height]).toEqual([n, 600, 450]);
    // Same picture as the untagged one: small JPEG noise only (a wrong turn gives ~60+).
    expect(meanDiff(d, ref)).toBeLessThan(8);
  }
  // Through shrink-on-load and a resize, too.
  const small6 = await decode(
    (await pool.transform(fixture("Landscape_6.jpg"), spec({ width: 150, format: "png" }))).data,
  );
  const small1 = await decode(
    (await pool.transform(fixture("Landscape_1.jpg"), spec({ width: 150, format: "png" }))).data,
  );
  expect([small6.width, small6.height]).toEqual([150, 113]);
  expect(meanDiff(small6, small1)).toBeLessThan(8);
  const p5 = await decode((await pool.transform(fixture("Portrait_5.jpg"), spec({ format: "png" }))).data);
  const p6 = await decode((await pool.transform(fixture("Portrait_6.jpg"), spec({ format: "png" }))).data);
  expect([p5.width, p5.height, p6.width, p6.height]).toEqual([450, 600, 450, 600]);
  expect(meanDiff(p5, p6)).toBeGreaterThan(0); // 5 is mirrored, 6 is not…
  expect(meanDiff(p5, p6)).toBeLessThan(60); // …but both are upright portraits
});

test("alpha is kept in WebP, PNG and AVIF, and flattened for JPEG", async () => {
  // Left half fully transparent red, right half opaque blue.
  const src = await makePng(64, 32, (x) => (x < 32 ? [255, 0, 0, 0] : [0, 0, 255, 255]));
  for (const format of ["webp", "png", "avif"] as const) {
    const d = await decode((await pool.transform(src, spec({ format, quality: 90 }))).data);
    expect({ format, channels: d.channels }).toEqual({ format, channels: 4 });
    expect(d.px(8, 16)[3]).toBeLessThan(5);
    expect(d.px(56, 16)[3]).toBeGreaterThan(250);
    expect(d.px(56, 16)[2]).toBeGreaterThan(200);
  }
  const white = await decode((await pool.transform(src, spec({ format: "jpeg", quality: 95 }))).data);
  expect(white.channels).toBe(3);
  for (const v of white.px(8, 16)) expect(v).toBeGreaterThan(245);
  expect(white.px(56, 16)[2]).toBeGreaterThan(200);
  expect(white.px(56, 16)[0]).toBeLessThan(40);
  const black = await decode(
    (await pool.transform(src, spec({ format: "jpeg", quality: 95, background: [0, 0, 0, 255] }))).data,
  );
  for (const v of black.px(8, 16)) expect(v).toBeLessThan(10);
  // Real files: RGBA PNG and WebP with alpha, 16-bit grey with alpha.
  for (const name of ["with-alpha.png", "5_webp_a.webp", "16-bit-grey-alpha.png"]) {
    const d = await decode((await pool.transform(fixture(name), spec({ format: "webp", width: 64 }))).data);
    expect({ name, channels: d.channels }).toEqual({ name, channels: 4 });
  }
}, 30_000);

test("resizing with alpha does not bleed transparent colour into edges", async () => {
  // Transparent *black* around an opaque white square: without premultiplication the
  // downscaled edge pixels turn grey.
  const src = await makePng(200, 200, (x, y) =>
    x >= 50 && x < 150 && y >= 50 && y < 150 ? [255, 255, 255, 255] : [0, 0, 0, 0],
  );
  const d = await decode((await pool.transform(src, spec({ width: 37, format: "png" }))).data);
  for (let x = 0; x < 37; x++) {
    const [r, , , a] = d.px(x, 18);
    if (a! > 64) expect(r!).toBeGreaterThan(230);
  }
});

test("colour: CMYK, P3, ProPhoto and 16-bit sources come out as 8-bit sRGB", async () => {
  const cmyk = fixture("Channel_digital_image_CMYK_color.jpg");
  const ours = await decode((await pool.transform(cmyk, spec({ format: "png" }))).data);
  expect(ours.channels).toBe(3);
  const theirs = await decode(new Uint8Array(await sharp(cmyk).toColourspace("srgb").png().toBuffer()));
  expect(meanDiff(ours, theirs)).toBeLessThan(6);
  // The ProPhoto pixel is stored as (131,141,192); in sRGB it is about (117,160,210).
  const pro = await decode((await pool.transform(fixture("prophoto.png"), spec({ format: "png" }))).data);
  const [r, g, b] = pro.px(0, 0);
  expect([Math.abs(r! - 117) < 5, Math.abs(g! - 160) < 5, Math.abs(b! - 210) < 5]).toEqual([true, true, true]);
  // Display P3's red is stored as 241 and lies outside sRGB: it clips to 255.
  const p3 = await decode((await pool.transform(fixture("p3.png"), spec({ format: "png" }))).data);
  expect(p3.px(4, 4)[0]).toBeGreaterThan(252);
  // 16-bit grey + alpha: alpha must survive the depth change (not collapse to ~0).
  const g16 = await decode((await pool.transform(fixture("16-bit-grey-alpha.png"), spec({ format: "png" }))).data);
  const ref = await decode(
    new Uint8Array(await sharp(fixture("16-bit-grey-alpha.png")).toColourspace("srgb").png().toBuffer()),
  );
  expect(g16.channels).toBe(4);
  expect(meanDiff(g16, ref)).toBeLessThan(2);
  // Greyscale JPEG and 1-bit TIFF decode and convert.
  for (const name of ["concert.jpg", "G31D.TIF"]) {
    const d = await decode((await pool.transform(fixture(name), spec({ width: 100, format: "jpeg" }))).data);
    expect({ name, w: d.width }).toEqual({ name, w: 100 });
  }
});

test("metadata is stripped unless asked for", async () => {
  const src = fixture("Landscape_1.jpg");
  const stripped = await sharp((await pool.transform(src, spec({ width: 100, format: "jpeg" }))).data).metadata();
  expect(stripped.exif).toBeUndefined();
  const kept = await sharp(
    (await pool.transform(src, spec({ width: 100, format: "jpeg", keepMetadata: true }))).data,
  ).metadata();
  expect(kept.exif).toBeDefined();
  // Orientation was applied, so the kept EXIF must not ask for it again.
  expect(kept.orientation ?? 1).toBe(1);
  // WebP (encoded outside libvips, metadata muxed in by imgd): the same rules.
  const rotated = fixture("Landscape_6.jpg");
  const w0 = await sharp((await pool.transform(rotated, spec({ width: 100, format: "webp" }))).data).metadata();
  expect([w0.format, w0.exif, w0.xmp]).toEqual(["webp", undefined, undefined]);
  const w1 = await pool.transform(rotated, spec({ width: 100, format: "webp", keepMetadata: true }));
  const m1 = await sharp(w1.data).metadata();
  expect(m1.exif).toBeDefined();
  expect([m1.width, m1.height, m1.orientation ?? 1]).toEqual([100, 75, 1]);
  expect(await decode(w1.data)).toMatchObject({ width: 100, height: 75 });
  // A tagged source keeps (libvips' compact sRGB) profile, with and without alpha.
  for (const name of ["p3.png", "with-alpha.png"]) {
    const tagged = await pool.transform(fixture(name), spec({ width: 8, format: "webp" }));
    const hasIcc = (await sharp(fixture(name)).metadata()).icc !== undefined;
    const m = await sharp(tagged.data).metadata();
    expect({ name, icc: m.icc !== undefined, w: m.width }).toEqual({ name, icc: hasIcc, w: 8 });
  }
});

test("SVG is rasterised at the target size; animations stay animated in WebP and GIF", async () => {
  const svg = await pool.transform(fixture("circle.svg"), spec({ width: 256, enlarge: true, format: "png" }));
  const d = await decode(svg.data);
  expect([d.width, d.height, svg.format]).toEqual([256, 256, "png"]);
  expect(d.px(128, 128).slice(0, 3)).toEqual([255, 20, 147]); // deeppink, crisp at 32× the intrinsic size
  expect(d.px(2, 2)[3]).toBe(0);
  for (const [name, pages] of [
    ["animated-loop-3.gif", 10],
    ["animated-loop-3.webp", 10],
    ["big-height.webp", 97],
  ] as const) {
    const r = await pool.transform(fixture(name), spec({ width: 10, format: "webp" }));
    const m = await sharp(r.data).metadata();
    expect({ name, pages: m.pages ?? 1, w: m.width }).toEqual({ name, pages, w: 10 });
    const still = await pool.transform(fixture(name), spec({ width: 10, format: "png" }));
    expect((await sharp(still.data).metadata()).pages ?? 1).toBe(1);
  }
  const gif = await pool.transform(fixture("animated-loop-3.gif"), spec({ width: 64, format: "gif" }));
  expect((await sharp(gif.data).metadata()).format).toBe("gif");
});

test("pitm.avif decodes its primary item", async () => {
  const r = await pool.transform(fixture("pitm.avif"), spec({ width: 256, format: "jpeg" }));
  expect(await size(r.data)).toEqual([256, 50]);
}, 20_000);

test("large AVIF requests fall back to WebP", async () => {
  const r = await pool.transform(fixture("Landscape_1.jpg"), spec({ width: 4200, enlarge: true, format: "avif" }));
  expect([r.format, r.mime, r.width]).toEqual(["webp", "image/webp", 4200]);
  expect((await sharp(r.data).metadata()).format).toBe("webp");
}, 20_000);

test("broken input is invalid_image, for transform and inspect", async () => {
  for (const name of ["corrupt-header.jpg", "truncated.jpg", "truncated.png", "README.md"]) {
    expect({ name, code: await codeOf(pool.transform(fixture(name), spec({ width: 100 }))) }).toEqual({
      name,
      code: "invalid_image",
    });
    expect({ name, code: await codeOf(pool.inspect(fixture(name))) }).toEqual({ name, code: "invalid_image" });
  }
  // A valid header followed by garbage gets past probe and fails in the decoder.
  const flowersHead = flowers.slice(0, 2000);
  const garbage = new Uint8Array([...flowersHead, ...new Uint8Array(5000).fill(0x55)]);
  expect(await codeOf(pool.transform(garbage, spec({ width: 100 })))).toBe("invalid_image");
  // The pool is still fine afterwards.
  expect((await pool.transform(flowers, spec({ width: 50 }))).width).toBe(50);
});

test("pixel limit refuses before decoding", async () => {
  expect(await codeOf(pool.transform(fixture("65536-uint32-limit.png"), spec({ width: 100 })))).toBe("too_large");
  expect(await codeOf(pool.inspect(fixture("65536-uint32-limit.png")))).toBe("too_large");
});

test("inspect: upright size, alpha, pages and dominant colour", async () => {
  expect(await pool.inspect(fixture("Landscape_6.jpg"))).toMatchObject({
    format: "jpeg",
    width: 600,
    height: 450,
    hasAlpha: false,
    pages: 1,
  });
  expect(await pool.inspect(fixture("animated-loop-3.gif"))).toMatchObject({
    format: "gif",
    width: 370,
    height: 285,
    pages: 10,
  });
  expect(await pool.inspect(fixture("5_webp_a.webp"))).toMatchObject({ format: "webp", hasAlpha: true });
  expect(await pool.inspect(fixture("pitm.avif"))).toMatchObject({ format: "avif", width: 4096, height: 800 });
  expect(await pool.inspect(fixture("check.svg"))).toMatchObject({
    format: "svg",
    width: 100,
    height: 100,
    hasAlpha: true,
  });
  const red = await makePng(40, 40, (x) => (x < 30 ? [200, 10, 10, 255] : [10, 200, 10, 255]));
  expect((await pool.inspect(red)).dominantColor).toBe("c80a0a");
  // Transparent pixels do not count, whatever colour they hide.
  const mostlyClear = await makePng(40, 40, (x) => (x < 35 ? [0, 0, 0, 0] : [0, 0, 255, 255]));
  expect((await pool.inspect(mostlyClear)).dominantColor).toBe("0000ff");
}, 20_000);
