import { afterAll, beforeAll, expect, test } from "bun:test";
import sharp from "sharp";
import { type Fixture, fixture, luma, px } from "./params-helpers.ts";

// Imgwire's watermark family: another image of the tenant, text (embedded font) and a URL
// (through the SSRF-safe fetcher, served from 127.0.0.2), with position, size, rotation and shadow.

let f: Fixture;
let upstream: ReturnType<typeof Bun.serve>;
let blue: Uint8Array;
let fetches = 0;
beforeAll(async () => {
  blue = new Uint8Array(
    await sharp({ create: { width: 30, height: 30, channels: 3, background: { r: 0, g: 0, b: 255 } } })
      .png()
      .toBuffer(),
  );
  upstream = Bun.serve({
    hostname: "127.0.0.2",
    port: 0,
    fetch: (req) => {
      if (new URL(req.url).pathname !== "/blue.png") return new Response("nope", { status: 404 });
      fetches++;
      return new Response(blue as BodyInit);
    },
  });
  f = await fixture({ IMGD_IMPORT_ALLOW_NETWORKS: "127.0.0.2/32" });
});
afterAll(async () => {
  await f.stop();
  upstream.stop(true);
});

const base = "f=png&w=80"; // 80×60 output; the mark is a 40×40 red square
const isRed = (p: number[]) => p[0]! > 200 && p[1]! < 60 && p[2]! < 60;
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
/** As the tenant itself (its key): an unsigned URL may make imgd fetch only for its owner (test/security/access.test.ts). */
const asOwner = (query: string) =>
  f.fetchOut(`${f.cdn}?${query}`, { headers: { accept: "image/jpeg", authorization: `Bearer ${f.s.adminKey}` } });

test("watermark from another image: southeast by default, placed by gravity and offsets; wm is the same", async () => {
  const se = await f.get(`${base}&watermark=${f.watermarkId}`);
  expect([se.format, se.width, se.height]).toEqual(["png", 80, 60]);
  expect(isRed(px(se, 75, 55))).toBe(true);
  expect(isRed(px(se, 5, 5))).toBe(false);
  const nw = await f.get(`${base}&watermark=${f.watermarkId}:nowe`);
  expect(isRed(px(nw, 5, 5))).toBe(true);
  expect(isRed(px(nw, 75, 55))).toBe(false);
  const moved = await f.get(`${base}&watermark=${f.watermarkId}:nowe:30:10`);
  expect(isRed(px(moved, 5, 5))).toBe(false);
  expect(isRed(px(moved, 35, 15))).toBe(true);
  expect(same((await f.get(`${base}&wm=${f.watermarkId}`)).bytes, se.bytes)).toBe(true);
  const json = await f.get(
    `${base}&wm=${encodeURIComponent(JSON.stringify({ imageId: f.watermarkId, gravity: "nowe" }))}`,
  );
  expect(same(json.bytes, nw.bytes)).toBe(true);
});

test("watermark_position (gravity:x:y:opacity:blend), size, rotate and shadow, with aliases", async () => {
  const wm = `watermark=${f.watermarkId}`;
  const pos = await f.get(`${base}&${wm}&watermark_position=ce:0:0:0.5`);
  const mid = px(pos, 40, 30);
  expect(mid[0]! > 150 && mid[0]! < 240).toBe(true); // half red over the gradient
  expect(same((await f.get(`${base}&${wm}&wmp=ce:0:0:0.5`)).bytes, pos.bytes)).toBe(true);
  expect(same((await f.get(`${base}&${wm}&watermark_offset=ce:0:0:0.5`)).bytes, pos.bytes)).toBe(true);
  const mul = await f.get(`${base}&${wm}&watermark_position=nowe:0:0:1:multiply`);
  expect(px(mul, 30, 30)[1]!).toBeLessThan(10); // red × anything has no green
  const small = await f.get(`${base}&${wm}&watermark_size=20`);
  expect(isRed(px(small, 75, 55))).toBe(true);
  expect(isRed(px(small, 50, 35))).toBe(false);
  expect(isRed(px(await f.get(`${base}&${wm}`), 50, 35))).toBe(true);
  expect(same((await f.get(`${base}&${wm}&wms=20`)).bytes, small.bytes)).toBe(true);
  const scaled = await f.get(`${base}&${wm}&watermark_size=0:0:0.25`);
  expect(isRed(px(scaled, 75, 55))).toBe(true);
  expect(isRed(px(scaled, 55, 45))).toBe(false);
  const rot = await f.get(`${base}&${wm}&watermark_position=ce&watermark_rotate=45`);
  // A square turned 45°: its corners are gone, its middle stays.
  expect(isRed(px(rot, 40, 30))).toBe(true);
  expect(isRed(px(rot, 24, 14))).toBe(false);
  expect(same((await f.get(`${base}&${wm}&watermark_position=ce&wmr=45`)).bytes, rot.bytes)).toBe(true);
  expect(same((await f.get(`${base}&${wm}&watermark_position=ce&wm_rot=45`)).bytes, rot.bytes)).toBe(true);
  const plain = await f.get(`${base}&${wm}&watermark_position=nowe`);
  const shadow = await f.get(`${base}&${wm}&watermark_position=nowe&watermark_shadow=000000:0:6:6`);
  expect(luma({ ...shadow }, { x: 41, y: 41, w: 4, h: 4 })).toBeLessThan(
    luma(plain, { x: 41, y: 41, w: 4, h: 4 }) - 20,
  );
  expect(same((await f.get(`${base}&${wm}&watermark_position=nowe&wmsh=000000:0:6:6`)).bytes, shadow.bytes)).toBe(true);
  expect((await f.get(`${base}&${wm}&watermark_shadow=true`)).status).toBe(200);
});

test("watermark_text draws with the embedded font; watermark_url fetches through the SSRF-safe fetcher", async () => {
  const plain = await f.get(base);
  const text = await f.get(`${base}&watermark_text=HELLO&watermark_position=nowe`);
  // White text on the dark corner of the gradient.
  expect(luma(text, { x: 0, y: 0, w: 40, h: 8 })).toBeGreaterThan(luma(plain, { x: 0, y: 0, w: 40, h: 8 }) + 15);
  expect(luma(text, { x: 40, y: 40, w: 40, h: 20 })).toBeCloseTo(luma(plain, { x: 40, y: 40, w: 40, h: 20 }), 0);
  const other = await f.get(`${base}&watermark_text=WORLD&watermark_position=nowe`);
  expect(same(other.bytes, text.bytes)).toBe(false);
  expect(same((await f.get(`${base}&wmt=HELLO&wmp=nowe`)).bytes, text.bytes)).toBe(true);
  const red = await f.get(
    `${base}&wmt=${encodeURIComponent(JSON.stringify({ text: "###", color: "ff0000", size: 30 }))}&wmp=nowe`,
  );
  expect(red.status).toBe(200);
  const reds = Array.from({ length: 40 * 30 }, (_, i) => px(red, i % 40, Math.floor(i / 40))).filter(isRed).length;
  expect(reds).toBeGreaterThan(50);

  const url = btoa(`http://127.0.0.2:${upstream.port}/blue.png`);
  const fromUrl = await asOwner(`${base}&watermark_url=${url}`);
  const p = px(fromUrl, 75, 55);
  expect(p[2]! > 200 && p[0]! < 60).toBe(true);
  expect(same((await asOwner(`${base}&wmu=${url}`)).bytes, fromUrl.bytes)).toBe(true);
  // Fetched once, then remembered for a minute (the variant's key needs the mark's hash).
  expect(fetches).toBe(1);
  // The variant key holds the mark's content hash: another mark, another variant.
  expect(same(fromUrl.bytes, (await f.get(`${base}&watermark=${f.watermarkId}`)).bytes)).toBe(false);
});

test("watermark errors: unknown image, refused address, missing source, two sources", async () => {
  const unknown = await f.get(`${base}&watermark=${crypto.randomUUID()}`);
  expect(unknown.status).toBe(404);
  expect(unknown.body).toContain("watermark");
  const local = await asOwner(`${base}&watermark_url=${btoa("http://127.0.0.1:1/x.png")}`);
  expect(local.status).toBe(400);
  const missing = await f.get(`${base}&watermark_position=se`);
  expect(missing.status).toBe(400);
  expect(missing.body).toContain("watermark_position");
  const two = await f.get(`${base}&wm=${f.watermarkId}&wmt=hi`);
  expect(two.status).toBe(400);
  const notB64 = await asOwner(`${base}&wmu=!!!`);
  expect(notB64.status).toBe(400);
  expect(notB64.body).toContain("wmu");
  const badPos = await f.get(`${base}&wm=${f.watermarkId}&wmp=attention`);
  expect(badPos.status).toBe(400);
  expect(badPos.body).toContain("soea");
});
