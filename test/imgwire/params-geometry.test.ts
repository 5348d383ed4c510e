import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { FIXTURES } from "../helpers/server.ts";
import { type Fixture, fixture, luma, px } from "./params-helpers.ts";

// Imgwire's geometry parameters, each with two values, checked on decoded pixels.

let f: Fixture;
beforeAll(async () => {
  f = await fixture();
});
afterAll(() => f.stop());

const base = "f=png&w=80";

test("flip: horizontal mirrors left↔right, vertical top↔bottom, aliases give the same bytes", async () => {
  const plain = await f.get(base);
  const h = await f.get(`${base}&flip=horizontal`);
  const v = await f.get(`${base}&flip=vertical`);
  expect([h.format, h.width, h.height]).toEqual(["png", 80, 60]);
  // The gradient's red grows left to right: flipped, the left edge is the old right edge.
  expect(px(h, 0, 30)[0]).toBeCloseTo(px(plain, 79, 30)[0]!, -1);
  expect(px(v, 40, 0)[1]).toBeCloseTo(px(plain, 40, 59)[1]!, -1);
  expect(Buffer.compare(Buffer.from((await f.get(`${base}&fl=horizontal`)).bytes), Buffer.from(h.bytes))).toBe(0);
  expect((await f.get(`${base}&fl=true:false`)).bytes).toEqual(h.bytes);
});

test("rotate: 90 swaps the sides, 45 grows the canvas; rot is the same", async () => {
  const r90 = await f.get(`${base}&rotate=90`);
  expect([r90.width, r90.height]).toEqual([60, 80]);
  const r45 = await f.get(`${base}&rotate=45:ff0000`);
  expect(r45.width).toBeGreaterThan(90);
  expect(px(r45, 0, 0).slice(0, 3)).toEqual([255, 0, 0]);
  expect((await f.get(`${base}&rot=90`)).bytes).toEqual(r90.bytes);
});

test("padding, extend, extend_aspect_ratio add edges; background_alpha makes them see-through", async () => {
  const pd = await f.get(`${base}&padding=10&bg=000000`);
  expect([pd.width, pd.height]).toEqual([100, 80]);
  expect(px(pd, 2, 2).slice(0, 3)).toEqual([0, 0, 0]);
  const pd2 = await f.get(`${base}&padding=5:20`);
  expect([pd2.width, pd2.height]).toEqual([120, 70]);
  expect((await f.get(`${base}&pd=5:20`)).bytes).toEqual(pd2.bytes);
  const ex = await f.get(`${base}&extend=0:0:20:0:00ff00`);
  expect([ex.width, ex.height]).toEqual([80, 80]);
  expect(px(ex, 40, 75).slice(0, 3)).toEqual([0, 255, 0]);
  expect((await f.get(`${base}&ex=0:0:20:0:00ff00`)).bytes).toEqual(ex.bytes);
  const exj = await f.get(`${base}&extend=${encodeURIComponent('{"bottom":20,"background":"00ff00"}')}`);
  expect(exj.bytes).toEqual(ex.bytes);
  const ar = await f.get(`${base}&extend_aspect_ratio=1`);
  expect([ar.width, ar.height]).toEqual([80, 80]);
  const ar2 = await f.get(`${base}&extend_aspect_ratio=2:1`);
  expect([ar2.width, ar2.height]).toEqual([120, 60]);
  expect((await f.get(`${base}&exar=1`)).bytes).toEqual(ar.bytes);
  expect((await f.get(`${base}&extend_ar=1`)).bytes).toEqual(ar.bytes);
  const see = await f.get(`${base}&padding=10&background_alpha=0`);
  expect(see.channels).toBe(4);
  expect(px(see, 1, 1)[3]).toBe(0);
  const half = await f.get(`${base}&padding=10&bga=0.5`);
  expect(px(half, 1, 1)[3]).toBeCloseTo(128, -1);
});

test("zoom, min-width/min-height, resizing_algorithm, gravity offsets and focal point, JSON crop", async () => {
  const z = await f.get("f=png&zoom=2");
  expect([z.width, z.height]).toEqual([80, 60]);
  const z2 = await f.get("f=png&zoom=4:nowe");
  expect([z2.width, z2.height]).toEqual([40, 30]);
  expect(luma(z2)).toBeLessThan(luma(z)); // the dark corner of the gradient
  expect((await f.get("f=png&z=2")).bytes).toEqual(z.bytes);
  const mw = await f.get("f=png&w=40&min-width=100");
  expect([mw.width, mw.height]).toEqual([100, 75]);
  expect((await f.get("f=png&w=40&mw=100")).bytes).toEqual(mw.bytes);
  expect((await f.get("f=png&w=40&min_width=100")).bytes).toEqual(mw.bytes);
  const mh = await f.get("f=png&w=40&min-height=60");
  expect([mh.width, mh.height]).toEqual([80, 60]);
  expect((await f.get("f=png&w=40&mh=60")).bytes).toEqual(mh.bytes);
  expect((await f.get("f=png&w=40&min_height=60")).bytes).toEqual(mh.bytes);
  const near = await f.get("f=png&w=70&resizing_algorithm=nearest");
  const cub = await f.get("f=png&w=70&resizing_algorithm=cubic");
  expect([near.width, cub.width]).toEqual([70, 70]);
  expect(near.bytes).not.toEqual(cub.bytes);
  expect((await f.get("f=png&w=70&ra=nearest")).bytes).toEqual(near.bytes);
  // Gravity offsets move the cover cut; a focal point centres it.
  const west = await f.get("f=png&w=40&h=120&resizing_type=cover&g=we");
  const shifted = await f.get("f=png&w=40&h=120&resizing_type=cover&g=we:60:0");
  expect(px(shifted, 0, 60)[0]!).toBeGreaterThan(px(west, 0, 60)[0]! + 60);
  const fp = await f.get("f=png&w=40&h=120&resizing_type=cover&gravity=fp:1:0.5");
  expect(px(fp, 39, 60)[0]!).toBeGreaterThan(240);
  const crop = await f.get("f=png&crop=40:30:soea");
  const json = await f.get(`f=png&c=${encodeURIComponent('{"width":40,"height":30,"gravity":"soea"}')}`);
  expect([json.width, json.height]).toEqual([40, 30]);
  expect(json.bytes).toEqual(crop.bytes);
  const smart = await f.get("f=png&crop=40:30:attention");
  expect([smart.width, smart.height]).toEqual([40, 30]);
  const smart2 = await f.get("f=png&crop=40:30:ce:sm");
  expect(smart2.bytes).toEqual(smart.bytes);
});

test("unknown values are 400s naming the parameter and what it accepts", async () => {
  for (const [q, word] of [
    ["flip=sideways", "flip"],
    ["rotate=abc", "rotate"],
    ["resizing_algorithm=box", "lanczos3"],
    ["padding=1:2:3:4:5", "padding"],
    ["g=up", "gravity"],
    ["fl=x", "fl"],
    ["zoom=0.5", "zoom"],
    // Edges count toward the output pixel limit (100 M here): 120000×1200 is refused.
    ["w=1600&el=true&exar=100", "over the limit"],
    ["w=1600&el=true&pd=4096&rotate=45", "over the limit"],
  ] as const) {
    const r = await f.get(q);
    expect(r.status).toBe(400);
    expect(r.body).toContain(word);
  }
});

test("a free angle turns the same way as a right one (clockwise)", async () => {
  // The gradient's bright corner is bottom-right; turned clockwise it is bottom-left.
  const r90 = await f.get(`${base}&rotate=90`);
  const r89 = await f.get(`${base}&rotate=89`);
  const corner = (o: typeof r90) => luma(o, { x: 2, y: o.height - 12, w: 10, h: 10 });
  expect(corner(r90)).toBeGreaterThan(150);
  expect(corner(r89)).toBeGreaterThan(150);
});

test("animations: geometric and effect steps run on every frame", async () => {
  const gif = await f.upload(new Uint8Array(readFileSync(join(FIXTURES, "animated-loop-3.gif"))), "image/gif");
  const plain = await f.fetchOut(`${gif.cdn}?f=gif&w=80`);
  const flipped = await f.fetchOut(`${gif.cdn}?f=gif&w=80&flip=horizontal&padding=4&wmt=HI`);
  const m = await sharp(flipped.bytes, { pages: -1 }).metadata();
  expect([m.format, m.pages, m.width, m.pageHeight]).toEqual([
    "gif",
    10,
    88,
    (await sharp(plain.bytes, { pages: -1 }).metadata()).pageHeight! + 8,
  ]);
  const frame = async (bytes: Uint8Array, page: number) =>
    sharp(bytes, { page }).raw().toBuffer({ resolveWithObject: true });
  // Frame 5, mirrored: its left column is the plain frame's right column.
  const a = await frame(plain.bytes, 5);
  const b = await frame(flipped.bytes, 5);
  const col = (r: typeof a, x: number, y0: number) =>
    Array.from({ length: 20 }, (_, y) => r.data[((y + y0) * r.info.width + x) * r.info.channels]!);
  // page/pg/frame: one frame as a still image; different frames differ.
  const p3 = await f.fetchOut(`${gif.cdn}?f=png&w=80&page=3`);
  const p0 = await f.fetchOut(`${gif.cdn}?f=png&w=80&page=0`);
  expect([p3.format, p3.width]).toEqual(["png", 80]);
  expect(Buffer.from(p3.bytes).equals(Buffer.from(p0.bytes))).toBe(false);
  for (const alias of ["pg", "frame"])
    expect(
      Buffer.from((await f.fetchOut(`${gif.cdn}?f=png&w=80&${alias}=3`)).bytes).equals(Buffer.from(p3.bytes)),
    ).toBe(true);
  const diff = col(a, 79, 20).reduce((d, v, i) => d + Math.abs(v - col(b, 4, 24)[i]!), 0) / 20;
  expect(diff).toBeLessThan(30);
});
