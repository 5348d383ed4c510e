// Animated GIF and WebP sources stay animated in GIF and WebP output: every frame resized,
// delays and loop count kept; still formats take the first frame or the one asked for. The
// animated WebP is assembled from frames of the non-SIMD encoder (Bun miscompiles libwebp's
// SIMD paths, wasm-vips' webpsave included), and checked frame by frame against sharp (V8-free
// native libvips) decoding the source.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import sharp from "sharp";
import { CodecPool } from "../../codecs/pool.ts";
import { codeOf, fixture, spec } from "../codecs/helpers.ts";
import { form, startServer, type TestServer } from "../helpers/server.ts";
import { snapshot } from "../helpers/store.ts";

let pool: CodecPool;
beforeAll(async () => {
  pool = new CodecPool({
    size: 1,
    maxQueue: 8,
    jobTimeoutMs: 60_000,
    maxSourcePixels: 50_000_000,
    maxAnimationFrames: 200,
  });
  await pool.start();
});
afterAll(() => pool?.close());

/** Frames of an animated file as sharp decodes them (RGBA), optionally resized by sharp first. */
async function frames(bytes: Uint8Array, width?: number) {
  const meta = await sharp(bytes, { animated: true }).metadata();
  const img = sharp(bytes, { animated: true });
  if (width) img.resize(width);
  const { data, info } = await img.ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const h = info.height / (meta.pages ?? 1);
  const size = info.width * h * 4;
  return {
    meta,
    width: info.width,
    height: h,
    frames: Array.from(
      { length: meta.pages ?? 1 },
      (_, i) => new Uint8Array(data.buffer, data.byteOffset + i * size, size),
    ),
  };
}

function meanDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i += 4)
    for (let c = 0; c < 3; c++) sum += Math.abs(a[i + c]! - b[i + c]!) * (a[i + 3]! / 255);
  return sum / ((a.length / 4) * 3);
}

for (const name of ["animated-loop-3.gif", "animated-loop-3.webp"]) {
  for (const format of ["gif", "webp"] as const) {
    test(`${name} → animated ${format} at 200 px: frames, delays, loop, pixels`, async () => {
      const src = fixture(name);
      const srcMeta = await sharp(src, { animated: true }).metadata();
      const out = await pool.transform(src, spec({ width: 200, fit: "inside", format, quality: 90 }));
      const got = await frames(out.data);
      expect(got.meta.format).toBe(format);
      expect([got.width, got.height]).toEqual([200, Math.round((200 * 285) / 370)]);
      expect(got.meta.pages).toBe(10);
      expect(got.meta.delay).toEqual(srcMeta.delay!);
      expect(got.meta.loop).toBe(srcMeta.loop!);
      // Each frame matches the same source frame resized by sharp (native libvips).
      const ref = await frames(src, 200);
      expect(ref.frames.length).toBe(10);
      for (let i = 0; i < 10; i++)
        expect({ i, diff: meanDiff(got.frames[i]!, ref.frames[i]!) < (format === "gif" ? 14 : 8) }).toEqual({
          i,
          diff: true,
        });
      // Deterministic (the miscompile showed as drifting output from one encode to the next).
      const again = await pool.transform(src, spec({ width: 200, fit: "inside", format, quality: 90 }));
      expect(Buffer.from(again.data).equals(Buffer.from(out.data))).toBe(true);
    }, 60_000);
  }
}

test("cover crop applies to every frame; still outputs take frame 0 or the one asked for", async () => {
  const src = fixture("animated-loop-3.gif");
  const cover = await frames(
    (await pool.transform(src, spec({ width: 80, height: 80, fit: "cover", format: "webp" }))).data,
  );
  expect([cover.width, cover.height, cover.frames.length]).toEqual([80, 80, 10]);
  const ref = await frames(src);
  const pick = async (frame?: number) => {
    const r = await pool.transform(
      src,
      spec({ width: 370, fit: "inside", format: "png", ...(frame !== undefined && { frame }) }),
    );
    const m = await sharp(r.data).metadata();
    expect(m.pages ?? 1).toBe(1);
    return new Uint8Array(await sharp(r.data).ensureAlpha().raw().toBuffer());
  };
  expect(meanDiff(await pick(), ref.frames[0]!)).toBeLessThan(1);
  expect(meanDiff(await pick(6), ref.frames[6]!)).toBeLessThan(1);
  expect(meanDiff(await pick(6), ref.frames[0]!)).toBeGreaterThan(1);
  expect(await codeOf(pool.transform(src, spec({ width: 50, format: "png", frame: 10 })))).toBe("invalid_image");
}, 60_000);

test("frames count toward the pixel limit and the frame cap", async () => {
  const small = new CodecPool({
    size: 1,
    maxQueue: 2,
    jobTimeoutMs: 30_000,
    maxSourcePixels: 370 * 285 * 9,
    maxAnimationFrames: 200,
  });
  const few = new CodecPool({
    size: 1,
    maxQueue: 2,
    jobTimeoutMs: 30_000,
    maxSourcePixels: 50_000_000,
    maxAnimationFrames: 9,
  });
  await Promise.all([small.start(), few.start()]);
  try {
    const src = fixture("animated-loop-3.gif");
    expect(await codeOf(small.transform(src, spec({ width: 50, format: "gif" })))).toBe("too_large");
    expect(await codeOf(small.inspect(src))).toBe("too_large");
    // One frame of it is within the limit.
    expect(await codeOf(small.transform(src, spec({ width: 50, format: "png" })))).toBe("ok");
    expect(await codeOf(few.inspect(src))).toBe("too_large");
    expect(await codeOf(few.transform(src, spec({ width: 50, format: "png" })))).toBe("too_large");
  } finally {
    await Promise.all([small.close(), few.close()]);
  }
}, 60_000);

describe("over HTTP", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ env: { IMGD_MAX_ANIMATION_FRAMES: "50" } });
  });
  afterAll(() => s?.stop());

  test("native .gif/.webp stay animated, ?frame=N picks one; Imgwire page=N; a 97-frame WebP is over the cap", async () => {
    const up = (await (
      await s.api("/api/v1/images", {
        method: "POST",
        body: form({ file: { bytes: fixture("animated-loop-3.webp"), filename: "anim.webp" } }),
      })
    ).json()) as any;
    for (const ext of ["gif", "webp"]) {
      const res = await fetch(`${s.url}/i/admin/anim.${ext}?w=200`);
      const m = await sharp(new Uint8Array(await res.arrayBuffer()), { animated: true }).metadata();
      expect({ ext, format: m.format as string, pages: m.pages, w: m.width }).toEqual({
        ext,
        format: ext,
        pages: 10,
        w: 200,
      });
    }
    const one = await fetch(`${s.url}/i/admin/anim.webp?w=200&frame=3`);
    expect((await sharp(new Uint8Array(await one.arrayBuffer()), { animated: true }).metadata()).pages ?? 1).toBe(1);
    const bad = await fetch(`${s.url}/i/admin/anim.png?frame=12`);
    expect(bad.status).toBe(400);
    // Imgwire's CDN: format=gif stays animated; page (or pg, frame) picks one frame.
    const iw = await fetch(`${s.url}/imgwire/cdn/admin/anim.webp?width=100&format=gif`);
    expect((await sharp(new Uint8Array(await iw.arrayBuffer()), { animated: true }).metadata()).pages).toBe(10);
    const iwOne = await fetch(`${s.url}/imgwire/cdn/admin/anim.webp?width=100&format=png&pg=4`);
    expect(iwOne.headers.get("content-type")).toBe("image/png");
    const ref = await frames(fixture("animated-loop-3.webp"), 100);
    const px = new Uint8Array(
      await sharp(new Uint8Array(await iwOne.arrayBuffer()))
        .ensureAlpha()
        .raw()
        .toBuffer(),
    );
    expect(meanDiff(px, ref.frames[4]!)).toBeLessThan(meanDiff(px, ref.frames[0]!));
    // GET reports the frames and alpha read from the file's structure.
    const meta = (await (await s.api(`/api/v1/images/${up.id}`)).json()) as any;
    expect([meta.metadata.frames, meta.metadata.has_alpha]).toEqual([
      10,
      (await sharp(fixture("animated-loop-3.webp")).metadata()).hasAlpha,
    ]);
    const gifUp = (await (
      await s.api("/api/v1/images", {
        method: "POST",
        body: form({ file: { bytes: fixture("animated-loop-3.gif"), filename: "anim-gif.gif" } }),
      })
    ).json()) as any;
    const gifMeta = (await (await s.api(`/api/v1/images/${gifUp.id}`)).json()) as any;
    expect(gifMeta.metadata.frames).toBe(10);
    const before = snapshot(s.dataDir);
    const big = await s.api("/api/v1/images", {
      method: "POST",
      body: form({ file: { bytes: fixture("big-height.webp"), filename: "big.webp" } }),
    });
    expect(big.status).toBeGreaterThanOrEqual(400);
    expect(big.status).toBeLessThan(500);
    expect(((await big.json()) as any).error.message).toContain("frames");
    for (let i = 0; i < 50 && JSON.stringify(snapshot(s.dataDir)) !== JSON.stringify(before); i++) await Bun.sleep(20);
    expect(snapshot(s.dataDir)).toEqual(before);
  }, 60_000);
});
