import { afterAll, beforeAll, expect, test } from "bun:test";
import { chroma, edges, type Fixture, fixture, luma, mean } from "./params-helpers.ts";

// Imgwire's effect and colour parameters, each with two values and its aliases.

let f: Fixture;
beforeAll(async () => {
  f = await fixture();
});
afterAll(() => f.stop());

const base = "f=png&w=80";
const same = async (a: string, b: string) =>
  expect(
    Buffer.from((await f.get(`${base}&${a}`)).bytes).equals(Buffer.from((await f.get(`${base}&${b}`)).bytes)),
  ).toBe(true);

test("blur and sharpen change edge energy; pixelate makes blocks", async () => {
  // A 45° turn gives hard edges against the black corners: blur softens them, sharpen adds.
  const plain = await f.get(`${base}&rotate=45:000000`);
  const b1 = await f.get(`${base}&blur=1`);
  const b5 = await f.get(`${base}&blur=5`);
  expect([b5.format, b5.width, b5.height]).toEqual(["png", 80, 60]);
  expect(edges(await f.get(`${base}&rotate=45:000000&blur=3`))).toBeLessThan(edges(plain) * 0.8);
  expect(edges(await f.get(`${base}&rotate=45:000000&sharpen=2`))).toBeGreaterThan(edges(plain));
  const px = await f.get(`${base}&pixelate=8`);
  expect(edges(px)).toBeGreaterThan(edges(await f.get(base)));
  expect(Buffer.from(b1.bytes).equals(Buffer.from(b5.bytes))).toBe(false);
  expect((await f.get(`${base}&sharpen=true`)).status).toBe(200);
  expect(Buffer.from((await f.get(`${base}&pixelate=4`)).bytes).equals(Buffer.from(px.bytes))).toBe(false);
  await same("blur=5", "bl=5");
  await same("sharpen=2", "sh=2");
  await same("pixelate=8", "pix=8");
  await same("sharpen=2", `sharpen=${encodeURIComponent('{"sigma":2}')}`);
});

test("brightness, lightness, contrast, saturation, hue, adjust", async () => {
  const plain = await f.get(base);
  expect(luma(await f.get(`${base}&brightness=1.5`))).toBeGreaterThan(luma(plain) + 20);
  expect(luma(await f.get(`${base}&brightness=0.5`))).toBeLessThan(luma(plain) - 20);
  const lighter = await f.get(`${base}&lightness=1.3`);
  const darker = await f.get(`${base}&lightness=0.5`);
  expect(luma(lighter)).toBeGreaterThan(luma(darker) + 20);
  const sd = (o: Awaited<ReturnType<typeof f.get>>) => {
    const m = luma(o);
    let s = 0;
    for (let i = 0; i < o.width * o.height; i++) s += (o.raw[i * o.channels]! - m) ** 2;
    return Math.sqrt(s / (o.width * o.height));
  };
  expect(sd(await f.get(`${base}&contrast=2`))).toBeGreaterThan(sd(plain) * 1.3);
  expect(sd(await f.get(`${base}&contrast=0.5:128`))).toBeLessThan(sd(plain) * 0.8);
  expect(chroma(await f.get(`${base}&saturation=0.1`))).toBeLessThan(chroma(plain) * 0.3);
  expect(chroma(await f.get(`${base}&saturation=2`))).toBeGreaterThan(chroma(plain) * 1.2);
  const h1 = mean(await f.get(`${base}&hue=120`));
  const h2 = mean(await f.get(`${base}&hue=240`));
  const p = mean(plain);
  expect(Math.abs(h1[0]! - p[0]!) + Math.abs(h2[1]! - p[1]!)).toBeGreaterThan(20);
  await same("brightness=1.5", "br=1.5");
  await same("lightness=1.3", "l=1.3");
  await same("contrast=2", "co=2");
  await same("contrast=2", `contrast=${encodeURIComponent('{"multiplier":2}')}`);
  await same("saturation=2", "sa=2");
  await same("hue=120", "hu=120");
  await same("adjust=1.5", "brightness=1.5");
  await same("a=1.5:2", "brightness=1.5&saturation=2");
  await same("adjust=1:1:120", "hue=120");
});

test("monochrome, duotone, colorize, negate, normalize, gradient", async () => {
  const plain = await f.get(base);
  expect(chroma(await f.get(`${base}&monochrome=true`))).toBeLessThan(2);
  const red = mean(await f.get(`${base}&monochrome=ff0000`));
  expect(red[0]!).toBeGreaterThan(red[1]! + 40);
  expect(Buffer.from((await f.get(`${base}&monochrome=false`)).bytes).equals(Buffer.from(plain.bytes))).toBe(true);
  const dt = mean(await f.get(`${base}&duotone=0000ff:ffff00`));
  expect(dt[2]!).toBeGreaterThan(10);
  const dt2 = mean(await f.get(`${base}&duotone=000000:ffffff`));
  expect(Math.abs(dt2[0]! - dt2[2]!)).toBeLessThan(2);
  const col = mean(await f.get(`${base}&colorize=00ff0080`));
  expect(col[1]!).toBeGreaterThan(mean(plain)[1]! + 40);
  expect(mean(await f.get(`${base}&colorize=0000ff`))[2]).toBeGreaterThan(250);
  const neg = mean(await f.get(`${base}&negate=true`));
  expect(neg[0]!).toBeCloseTo(255 - mean(plain)[0]!, -1);
  expect((await f.get(`${base}&negate=alpha:true`)).status).toBe(200);
  const dull = "brightness=0.5&contrast=0.5";
  const norm = await f.get(`${base}&${dull}&normalize=true`);
  expect(Math.max(...mean(norm))).toBeGreaterThan(Math.max(...mean(await f.get(`${base}&${dull}`))));
  expect((await f.get(`${base}&${dull}&normalize=5:95`)).status).toBe(200);
  const gr = await f.get(`${base}&gradient=000000,ffffff`);
  expect(luma(gr, { x: 0, y: 50, w: 80, h: 10 })).toBeGreaterThan(luma(gr, { x: 0, y: 0, w: 80, h: 10 }) + 100);
  const gr90 = await f.get(`${base}&gradient=ff0000,0000ff:90:0.5:multiply`);
  expect(gr90.status).toBe(200);
  await same("monochrome=true", "mc=true");
  await same("duotone=0000ff:ffff00", "dt=0000ff:ffff00");
  await same("duotone=0000ff:ffff00", `dt=${encodeURIComponent('{"shadowColor":"0000ff","highlightColor":"ffff00"}')}`);
  await same("colorize=00ff0080", "col=00ff0080");
  await same("negate=true", "neg=true");
  await same("normalize=true", "norm=true");
  await same("normalize=true", "normalise=1:99");
  await same("gradient=000000,ffffff", "gr=000000,ffffff");
});

test("bad effect values are 400s naming the parameter", async () => {
  for (const [q, word] of [
    ["blur=0.1", "blur"],
    ["br=11", "br"],
    ["pixelate=1", "pixelate"],
    ["duotone=red", "duotone"],
    ["gradient=fff", "gradient"],
    ["gradient=000,fff:0:1:dodge", "blend"],
    ["normalize=9:2", "normalize"],
  ] as const) {
    const r = await f.get(q);
    expect(r.status).toBe(400);
    expect(r.body).toContain(word);
  }
});
