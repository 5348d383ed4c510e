import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { FIXTURES } from "../helpers/server.ts";
import { type Fixture, fixture, luma, px } from "./params-helpers.ts";

// Imgwire's output parameters (dpi, chroma, progressive, colour profile, metadata, quality,
// including quality=auto) and the resize parameters, each with two values and its aliases.

let f: Fixture;
let p3: { id: string; cdn: string };
let tagged: { id: string; cdn: string };
beforeAll(async () => {
  f = await fixture();
  p3 = await f.upload(new Uint8Array(readFileSync(join(FIXTURES, "p3.png"))), "image/png");
  // A JPEG with EXIF copyright and artist, and a camera make that must not survive.
  const withExif = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#808080" } })
    .withExif({ IFD0: { Copyright: "(c) Test Owner", Artist: "A. Painter", Make: "CameraCo" } })
    .jpeg()
    .toBuffer();
  tagged = await f.upload(new Uint8Array(withExif), "image/jpeg");
});
afterAll(() => f.stop());

const meta = async (bytes: Uint8Array) => sharp(bytes).metadata();
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

test("dpi, chroma_subsampling and progressive land in the file's header", async () => {
  const d300 = await f.get("f=jpg&w=80&dpi=300");
  expect((await meta(d300.bytes)).density).toBe(300);
  const d72 = await f.get("f=png&w=80&dpi=72");
  expect((await meta(d72.bytes)).density).toBe(72);
  const full = await f.get("f=jpg&w=80&chroma_subsampling=4:4:4");
  expect((await meta(full.bytes)).chromaSubsampling).toBe("4:4:4");
  const sub = await f.get("f=jpg&w=80&chroma_subsampling=4:2:2");
  expect((await meta(sub.bytes)).chromaSubsampling).toBe("4:2:0"); // libvips has no 4:2:2 (README)
  expect(same((await f.get("f=jpg&w=80&chroma_subsampling=auto")).bytes, (await f.get("f=jpg&w=80")).bytes)).toBe(true);
  const prog = await f.get("f=jpg&w=80&progressive=true");
  expect((await meta(prog.bytes)).isProgressive).toBe(true);
  const base = await f.get("f=jpg&w=80&progressive=false");
  expect((await meta(base.bytes)).isProgressive).toBe(false);
  const pngI = await f.get("f=png&w=80&progressive=true");
  expect((await meta(pngI.bytes)).isProgressive).toBe(true);
  expect(same((await f.get("f=jpg&w=80&progressive=auto")).bytes, base.bytes)).toBe(true);
});

test("color_profile: srgb, rgb16, cmyk, keep/preserve; strip_color_profile; aliases cp and icc, scp", async () => {
  const srgb = await f.fetchOut(`${p3.cdn}?f=png&color_profile=srgb`);
  expect((await meta(srgb.bytes)).icc?.length).toBeLessThan(1000); // libvips' compact sRGB
  const keep = await f.fetchOut(`${p3.cdn}?f=png&color_profile=keep`);
  const keptIcc = (await meta(keep.bytes)).icc!;
  expect(keptIcc.toString("latin1")).toContain("P3");
  expect(same((await f.fetchOut(`${p3.cdn}?f=png&cp=preserve`)).bytes, keep.bytes)).toBe(true);
  const strip = await f.fetchOut(`${p3.cdn}?f=png&strip_color_profile=true`);
  expect((await meta(strip.bytes)).icc).toBeUndefined();
  expect(same((await f.fetchOut(`${p3.cdn}?f=png&scp=true`)).bytes, strip.bytes)).toBe(true);
  const wide = await f.get("f=png&w=40&color_profile=rgb16");
  expect((await meta(wide.bytes)).depth).toBe("ushort");
  expect(same((await f.get("f=png&w=40&icc=rgb16")).bytes, wide.bytes)).toBe(true);
  const cmyk = await f.get("f=jpg&w=40&color_profile=cmyk");
  expect((await meta(cmyk.bytes)).space).toBe("cmyk");
  expect(same((await f.get("f=jpg&w=40&cp=cmyk")).bytes, cmyk.bytes)).toBe(true);
});

test("keep_copyright keeps only the EXIF copyright and artist; strip_metadata=false keeps all", async () => {
  const plain = await f.fetchOut(`${tagged.cdn}?f=jpg`);
  expect((await meta(plain.bytes)).exif).toBeUndefined();
  const kept = await f.fetchOut(`${tagged.cdn}?f=jpg&keep_copyright=true`);
  const exif = (await meta(kept.bytes)).exif!.toString("latin1");
  expect(exif).toContain("(c) Test Owner");
  expect(exif).toContain("A. Painter");
  expect(exif).not.toContain("CameraCo");
  expect(same((await f.fetchOut(`${tagged.cdn}?f=jpg&kcr=true`)).bytes, kept.bytes)).toBe(true);
  for (const format of ["webp", "png"]) {
    const other = (await meta((await f.fetchOut(`${tagged.cdn}?f=${format}&kcr=true`)).bytes)).exif!.toString("latin1");
    expect([format, other.includes("(c) Test Owner"), other.includes("CameraCo")]).toEqual([format, true, false]);
  }
  expect(same((await f.fetchOut(`${tagged.cdn}?f=jpg&kcr=false`)).bytes, plain.bytes)).toBe(true);
  const all = await f.fetchOut(`${tagged.cdn}?f=jpg&strip_metadata=false`);
  expect((await meta(all.bytes)).exif!.toString("latin1")).toContain("CameraCo");
  expect(same((await f.fetchOut(`${tagged.cdn}?f=jpg&sm=false`)).bytes, all.bytes)).toBe(true);
  expect(same((await f.fetchOut(`${tagged.cdn}?f=jpg&sm=true`)).bytes, plain.bytes)).toBe(true);
});

test("quality: numbers and auto (an SSIM target per image), q is the same", async () => {
  const q20 = await f.get("f=jpg&w=160&quality=20");
  const q95 = await f.get("f=jpg&w=160&quality=95");
  expect(q20.bytes.length).toBeLessThan(q95.bytes.length);
  expect(same((await f.get("f=jpg&w=160&q=20")).bytes, q20.bytes)).toBe(true);
  const auto = await f.get("f=jpg&w=160&quality=auto");
  expect([auto.format, auto.width, auto.height]).toEqual(["jpeg", 160, 120]);
  // The smooth gradient needs little: auto is below the ceiling (90) in bytes.
  expect(auto.bytes.length).toBeLessThan((await f.get("f=jpg&w=160&quality=90")).bytes.length);
  expect(same((await f.get("f=jpg&w=160&q=auto")).bytes, auto.bytes)).toBe(true);
  // A noisy image needs more than the gradient: auto picks a higher quality for it.
  const noise = await f.upload(
    new Uint8Array(
      await sharp({
        create: {
          width: 160,
          height: 120,
          channels: 3,
          background: "#808080",
          noise: { type: "gaussian", mean: 128, sigma: 40 },
        },
      })
        .png()
        .toBuffer(),
    ),
    "image/png",
  );
  const noisyAuto = await f.fetchOut(`${noise.cdn}?f=jpg&q=auto`);
  const noisy30 = await f.fetchOut(`${noise.cdn}?f=jpg&q=30`);
  expect(noisyAuto.bytes.length).toBeGreaterThan(noisy30.bytes.length * 1.2);
  expect((await f.get("f=png&w=80&q=auto")).status).toBe(200);
});

test("the resize parameters: width/height/resizing_type/enlarge/dpr/gravity/background/format with aliases", async () => {
  const w = await f.get("f=png&width=100");
  expect([w.width, w.height]).toEqual([100, 75]);
  expect(same((await f.get("f=png&w=100")).bytes, w.bytes)).toBe(true);
  const h = await f.get("f=png&height=30");
  expect([h.width, h.height]).toEqual([40, 30]);
  expect(same((await f.get("f=png&h=30")).bytes, h.bytes)).toBe(true);
  const cover = await f.get("f=png&w=50&h=50&resizing_type=cover");
  expect([cover.width, cover.height]).toEqual([50, 50]);
  const fill = await f.get("f=png&w=50&h=50&resizing_type=force");
  expect([fill.width, fill.height]).toEqual([50, 50]);
  expect(same(cover.bytes, fill.bytes)).toBe(false);
  const big = await f.get("f=png&w=320&enlarge=true");
  expect(big.width).toBe(320);
  expect((await f.get("f=png&w=320&el=false")).width).toBe(160);
  const dpr = await f.get("f=png&w=40&dpr=2");
  expect(dpr.width).toBe(80);
  expect((await f.get("f=png&w=40&dpr=0.5")).width).toBe(20);
  const north = await f.get("f=png&w=160&h=40&resizing_type=cover&gravity=no");
  const south = await f.get("f=png&w=160&h=40&resizing_type=cover&g=south");
  expect(luma(south)).toBeGreaterThan(luma(north) + 40);
  const pad = await f.get("f=png&w=100&h=100&resizing_type=contain&background=ff0000");
  expect(px(pad, 50, 2).slice(0, 3)).toEqual([255, 0, 0]);
  expect(same((await f.get("f=png&w=100&h=100&resizing_type=contain&bg=f00")).bytes, pad.bytes)).toBe(true);
  const webp = await f.get("format=webp&w=40");
  expect(webp.format).toBe("webp");
  expect((await f.get("ext=gif&w=40")).format).toBe("gif");
  expect(same((await f.get("extension=webp&w=40")).bytes, webp.bytes)).toBe(true);
});

test("bad output values are 400s naming the parameter and the accepted values", async () => {
  for (const [q, word] of [
    ["dpi=0", "dpi"],
    ["chroma_subsampling=4:1:1", "4:4:4"],
    ["progressive=maybe", "progressive"],
    ["cp=adobe", "srgb, rgb16, cmyk"],
    ["kcr=yes", "kcr"],
    ["quality=best", "quality"],
  ] as const) {
    const r = await f.get(q);
    expect(r.status).toBe(400);
    expect(r.body).toContain(word);
  }
});
