import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { checkComplete, probe, probeLayout, unsupportedFormat } from "../../codecs/probe/index.ts";
import { FIXTURES } from "./helpers.ts";

// What the header says, per fixture (stored size; the last three columns are no longer probed); null = refused.
const EXPECTED: Record<string, [string, number, number, number, number, number] | null> = {
  "16-bit-grey-alpha.png": ["png", 109, 96, 1, 109, 96],
  "iphone-like-10bit-orientation-6.heic": ["heic", 120, 160, 1, 120, 160],
  "2569067123_aca715a2ee_o.jpg": ["jpeg", 2725, 2225, 1, 2725, 2225],
  "4.webp": ["webp", 1024, 772, 1, 1024, 772],
  "5_webp_a.webp": ["webp", 300, 300, 1, 300, 300],
  "65536-uint32-limit.png": ["png", 65536, 65536, 1, 65536, 65536],
  "Channel_digital_image_CMYK_color.jpg": ["jpeg", 500, 333, 1, 500, 333],
  "G31D.TIF": ["tiff", 2464, 3248, 1, 2464, 3248],
  "Landscape_1.jpg": ["jpeg", 600, 450, 1, 600, 450],
  "Landscape_3.jpg": ["jpeg", 600, 450, 3, 600, 450],
  "Landscape_6.jpg": ["jpeg", 450, 600, 6, 600, 450],
  "Landscape_8.jpg": ["jpeg", 450, 600, 8, 600, 450],
  "Portrait_5.jpg": ["jpeg", 600, 450, 5, 450, 600],
  "Portrait_6.jpg": ["jpeg", 600, 450, 6, 450, 600],
  "animated-loop-3.gif": ["gif", 370, 285, 1, 370, 285],
  "animated-loop-3.webp": ["webp", 370, 285, 1, 370, 285],
  "big-height.webp": ["webp", 13, 169, 1, 13, 169],
  "check.svg": ["svg", 100, 100, 1, 100, 100],
  "circle.svg": ["svg", 8, 8, 1, 8, 8],
  "concert.jpg": ["jpeg", 400, 267, 1, 400, 267],
  "corrupt-header.jpg": null,
  "flowers.jpeg": ["jpeg", 1920, 1080, 1, 1920, 1080],
  "gradients-rgb8.png": ["png", 1000, 1000, 1, 1000, 1000],
  "p3.png": ["png", 8, 8, 1, 8, 8],
  // The primary item is a 4×1 grid of 1024×800 tiles: its own ispe, not the first one.
  "pitm.avif": ["avif", 4096, 800, 1, 4096, 800],
  "prophoto.png": ["png", 1, 1, 1, 1, 1],
  "truncated.jpg": ["jpeg", 2725, 2225, 1, 2725, 2225],
  "truncated.png": ["png", 294, 240, 1, 294, 240],
  "with-alpha.png": ["png", 256, 192, 1, 256, 192],
  "README.md": null,
};

const read = (name: string) => new Uint8Array(readFileSync(join(FIXTURES, name)));
const HEAD = 1 << 20;

test("every fixture is listed here", () => {
  // tls/ holds certificates for the outgoing-connection tests, not images.
  expect(
    readdirSync(FIXTURES)
      .filter((n) => n !== "tls")
      .sort(),
  ).toEqual(Object.keys(EXPECTED).sort());
});

for (const [name, want] of Object.entries(EXPECTED)) {
  test(`probe ${name}`, () => {
    const got = probe(read(name).subarray(0, HEAD));
    if (want === null) return expect(got).toBeNull();
    const [format, width, height] = want;
    expect(got).toMatchObject({ format, width, height });
    expect(got!.mime).toStartWith("image/");
  });
}

test("checkComplete: good fixtures pass, truncated ones fail", () => {
  for (const [name, want] of Object.entries(EXPECTED)) {
    if (!want) continue;
    const bytes = read(name);
    const ok = checkComplete(
      bytes.subarray(0, HEAD),
      bytes.subarray(Math.max(0, bytes.length - 65536)),
      want[0] as never,
    );
    expect({ name, ok }).toEqual({ name, ok: !name.startsWith("truncated") });
  }
});

test("checkComplete: JPEG tolerates a little padding after EOI, not a lot", () => {
  const jpeg = read("Landscape_1.jpg");
  const pad = (n: number) => new Uint8Array([...jpeg, ...new Uint8Array(n).fill(0x20)]);
  expect(checkComplete(jpeg, pad(100), "jpeg")).toBe(true);
  expect(checkComplete(jpeg, pad(5000), "jpeg")).toBe(false);
  expect(checkComplete(jpeg, jpeg.subarray(0, jpeg.length - 1), "jpeg")).toBe(false);
});

test("only the first bytes are needed", () => {
  const got = probe(read("2569067123_aca715a2ee_o.jpg").subarray(0, 4096));
  expect(got).toMatchObject({ format: "jpeg", width: 2725, height: 2225 });
});

// ------------------------------------------------------------------ synthetic headers

const u16be = (n: number) => [n >> 8, n & 255];
const u16le = (n: number) => [n & 255, n >> 8];
const u32be = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const u32le = (n: number) => u32be(n).reverse();
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const bytes = (...parts: number[][]) => new Uint8Array(parts.flat());

/** A little-endian EXIF/TIFF block with IFD0 holding the given (tag, SHORT value) pairs. */
function tiffLE(tags: [number, number][]): number[] {
  const out = [...ascii("II"), ...u16le(42), ...u32le(8), ...u16le(tags.length)];
  for (const [tag, v] of tags) out.push(...u16le(tag), ...u16le(3), ...u32le(1), ...u16le(v), 0, 0);
  return [...out, ...u32le(0)];
}

test("JPEG: huge dimensions from the header, stored (EXIF orientation is not probed)", () => {
  const exif = [...ascii("Exif\0\0"), ...tiffLE([[0x0112, 8]])];
  const jpeg = bytes(
    [0xff, 0xd8],
    [0xff, 0xe1, ...u16be(exif.length + 2), ...exif],
    [0xff, 0xc2, ...u16be(17), 8, ...u16be(50000), ...u16be(40000), 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1],
    [0xff, 0xda, 0, 12],
  );
  expect(probe(jpeg)).toEqual({
    format: "jpeg",
    mime: "image/jpeg",
    width: 40000,
    height: 50000,
  });
  // A scan before any frame header, or a cut-off header, is not an image.
  expect(probe(bytes([0xff, 0xd8], [0xff, 0xda, 0, 12]))).toBeNull();
  expect(probe(jpeg.subarray(0, 30))).toBeNull();
});

test("TIFF in both byte orders", () => {
  const mm = bytes(
    ascii("MM"),
    u16be(42),
    u32be(8),
    u16be(3),
    u16be(0x0100),
    u16be(4),
    u32be(1),
    u32be(70000),
    u16be(0x0101),
    u16be(3),
    u32be(1),
    u16be(300),
    [0, 0],
    u16be(0x0112),
    u16be(3),
    u32be(1),
    u16be(6),
    [0, 0],
    u32be(0),
  );
  expect(probe(mm)).toMatchObject({ format: "tiff", width: 70000, height: 300 });
  const ii = bytes(
    tiffLE([
      [0x0100, 640],
      [0x0101, 480],
    ]),
  );
  expect(probe(ii)).toMatchObject({ format: "tiff", width: 640, height: 480 });
});

test("WebP: VP8L and VP8X (an EXIF chunk does not change the stored size)", () => {
  const w = 1000,
    h = 20;
  const bits = (w - 1) | ((h - 1) << 14);
  const vp8l = bytes(ascii("RIFF"), u32le(30), ascii("WEBPVP8L"), u32le(10), [0x2f], u32le(bits), [0, 0, 0, 0, 0]);
  expect(probe(vp8l)).toMatchObject({ format: "webp", width: 1000, height: 20 });
  const exif = tiffLE([[0x0112, 6]]);
  const vp8x = bytes(
    ascii("RIFF"),
    u32le(0),
    ascii("WEBPVP8X"),
    u32le(10),
    [0x08, 0, 0, 0],
    [0x3f, 0x1f, 0],
    [0xdf, 0x0e, 0],
    ascii("EXIF"),
    u32le(exif.length),
    exif,
  );
  expect(probe(vp8x)).toMatchObject({ format: "webp", width: 8000, height: 3808 });
});

test("GIF, BMP (both header kinds, top-down) and ICO (largest entry, PNG-sized)", () => {
  expect(probe(bytes(ascii("GIF89a"), u16le(640), u16le(48), [0, 0, 0]))).toMatchObject({
    format: "gif",
    width: 640,
    height: 48,
  });
  const bmp = bytes(
    ascii("BM"),
    u32le(0),
    u32le(0),
    u32le(54),
    u32le(40),
    u32le(800),
    u32le(-600 >>> 0),
    u16le(1),
    u16le(24),
  );
  expect(probe(bmp)).toMatchObject({ format: "bmp", mime: "image/bmp", width: 800, height: 600 });
  const core = bytes(ascii("BM"), u32le(0), u32le(0), u32le(26), u32le(12), u16le(32), u16le(16), u16le(1), u16le(24));
  expect(probe(core)).toMatchObject({ format: "bmp", width: 32, height: 16 });
  const png = bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], u32be(13), ascii("IHDR"), u32be(512), u32be(384));
  const ico = bytes(
    [0, 0, 1, 0],
    u16le(2),
    [16, 16, 0, 0],
    u16le(1),
    u16le(32),
    u32le(100),
    u32le(1000),
    [0, 0, 0, 0],
    u16le(1),
    u16le(32),
    u32le(png.length),
    u32le(38),
    [...png],
  );
  expect(probe(ico)).toMatchObject({ format: "ico", width: 512, height: 384 });
});

function box(type: string, ...payload: number[][]): number[] {
  const body = payload.flat();
  return [...u32be(8 + body.length), ...ascii(type), ...body];
}
const fullBox = (type: string, version: number, ...payload: number[][]) => box(type, [version, 0, 0, 0], ...payload);

function heif(brand: string, props: number[][], primaryProps: number[], itemType = "hvc1"): Uint8Array {
  const ispeSmall = fullBox("ispe", 0, u32be(64), u32be(64));
  const meta = fullBox(
    "meta",
    0,
    fullBox("hdlr", 0, u32be(0), ascii("pict"), u32be(0), u32be(0), u32be(0), [0]),
    fullBox("pitm", 0, u16be(2)),
    fullBox(
      "iinf",
      0,
      u16be(2),
      fullBox("infe", 2, u16be(1), u16be(0), ascii(itemType), [0]),
      fullBox("infe", 2, u16be(2), u16be(0), ascii(itemType), [0]),
    ),
    box(
      "iprp",
      box("ipco", ispeSmall, ...props),
      // item 1 → property 1 (the small ispe); item 2 (primary) → the listed properties.
      fullBox("ipma", 0, u32be(2), u16be(1), [1, 0x81], u16be(2), [primaryProps.length], primaryProps),
    ),
  );
  return bytes(box("ftyp", ascii(brand), u32be(0), ascii("mif1"), ascii(brand)), meta);
}

test("HEIF: the primary item's ispe (stored size; irot/imir are the decoder's business)", () => {
  const ispe = fullBox("ispe", 0, u32be(4000), u32be(3000));
  const irot = (a: number) => box("irot", [a]);
  const imir = (axis: number) => box("imir", [axis]);
  // Property indices are 1-based and index 1 is the small ispe of item 1.
  expect(probe(heif("heic", [ispe], [2]))).toMatchObject({ format: "heic", width: 4000, height: 3000 });
  expect(probe(heif("heic", [irot(1), ispe], [2, 3]))).toMatchObject({ width: 4000, height: 3000 });
  expect(probe(heif("heic", [imir(0), ispe], [2, 3]))).toMatchObject({ width: 4000, height: 3000 });
  // Generic brands: the primary item's type decides.
  expect(probe(heif("mif1", [ispe], [2], "av01"))).toMatchObject({ format: "avif", mime: "image/avif" });
  expect(probe(heif("avif", [ispe], [2], "av01"))).toMatchObject({ format: "avif", width: 4000 });
  // An MP4 video is not an image.
  expect(probe(bytes(box("ftyp", ascii("isom"), u32be(0), ascii("isom"))))).toBeNull();
});

const svg = (s: string) => new TextEncoder().encode(s);

test("SVG: prolog, units, viewBox and defaults", () => {
  expect(
    probe(
      svg(
        '\ufeff<?xml version="1.0"?>\n<!-- hi -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x" [ <!ENTITY a "b"> ]>\n<svg width="200px" height="100" xmlns="http://www.w3.org/2000/svg"></svg>',
      ),
    ),
  ).toMatchObject({ format: "svg", mime: "image/svg+xml", width: 200, height: 100 });
  expect(probe(svg('<svg width="50%" viewBox="0 0 40 20"/>'))).toMatchObject({ width: 40, height: 20 });
  expect(probe(svg('<svg width="80" viewBox="0,0,40,20">'))).toMatchObject({ width: 80, height: 40 });
  expect(probe(svg('<svg height="10em" data-x=">">'))).toMatchObject({ width: 300, height: 150 });
  expect(probe(svg("<svg\n>"))).toMatchObject({ width: 300, height: 150 });
  expect(probe(svg("<svgfoo/>"))).toBeNull();
  expect(probe(svg("<html><svg></svg></html>"))).toBeNull();
  expect(probe(svg("hello"))).toBeNull();
});

test("JPEG XL codestream header", () => {
  // FF 0A, then SizeHeader: small=1, height=(7+1)*8=64, ratio=0, width=(15+1)*8=128;
  // ImageMetadata: all_default=0, extra_fields=1, orientation-1 = 5 → 6.
  let bits = 1 | (7 << 1) | (0 << 6) | (15 << 9) | (0 << 14) | (1 << 15) | (5 << 16);
  const cs = [0xff, 0x0a];
  for (let i = 0; i < 3; i++, bits >>>= 8) cs.push(bits & 255);
  expect(probe(bytes(cs))).toMatchObject({ format: "jxl", width: 128, height: 64 });
  const container = bytes(
    box("JXL ", [0x0d, 0x0a, 0x87, 0x0a]),
    box("ftyp", ascii("jxl "), u32be(0), ascii("jxl ")),
    box("jxlc", cs),
  );
  expect(probe(container)).toMatchObject({ format: "jxl", width: 128, height: 64 });
});

test("garbage is not an image", () => {
  expect(probe(new Uint8Array(0))).toBeNull();
  expect(probe(new Uint8Array([0xff, 0xd8, 0xff]))).toBeNull();
  expect(probe(new Uint8Array(64).fill(7))).toBeNull();
  expect(probe(bytes(ascii("RIFF"), u32le(4), ascii("WAVEfmt ")))).toBeNull();
});

test("QOI, netpbm (text sizes with comments, PAM), Radiance HDR and TGA headers", () => {
  expect(probe(bytes(ascii("qoif"), u32be(640), u32be(480), [4, 0]))).toMatchObject({
    format: "qoi",
    mime: "image/qoi",
    width: 640,
    height: 480,
  });
  expect(probe(bytes(ascii("qoif"), u32be(640), u32be(480), [5, 0]))).toBeNull();
  const text = (s: string) => new TextEncoder().encode(s);
  expect(probe(text("P6\n# made by hand\n 320 200\n255\n"))).toMatchObject({
    format: "pnm",
    mime: "image/x-portable-pixmap",
    width: 320,
    height: 200,
  });
  expect(probe(text("P5 7 9 255 "))).toMatchObject({ mime: "image/x-portable-graymap", width: 7, height: 9 });
  expect(probe(text("P7\nWIDTH 30\nHEIGHT 20\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n"))).toMatchObject({
    mime: "image/x-portable-arbitrarymap",
    width: 30,
    height: 20,
  });
  expect(probe(text("P6\nabc def\n"))).toBeNull();
  expect(probe(text("#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 100 +X 250\n"))).toMatchObject({
    format: "hdr",
    width: 250,
    height: 100,
  });
  expect(probe(text("#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n"))).toBeNull();
  const tga = (type: number, mapType: number, depth: number, descriptor = 8) =>
    bytes([0, mapType, type], [0, 0, 0, 0, mapType ? 24 : 0], u16le(0), u16le(0), u16le(300), u16le(150), [
      depth,
      descriptor,
    ]);
  expect(probe(tga(10, 0, 32))).toMatchObject({ format: "tga", mime: "image/x-tga", width: 300, height: 150 });
  expect(probe(tga(1, 1, 8, 0))).toMatchObject({ format: "tga" });
  expect(probe(tga(1, 0, 8))).toBeNull(); // colour-mapped without a map
  expect(probe(tga(12, 0, 32))).toBeNull();
  expect(probe(tga(2, 0, 32, 0xc8))).toBeNull(); // reserved descriptor bits
});

test("EXR is recognised only to be refused, with the reason", () => {
  const exr = bytes([0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0]);
  expect(probe(exr)).toBeNull();
  expect(unsupportedFormat(exr)).toContain("no maintained WebAssembly OpenEXR decoder");
  expect(unsupportedFormat(bytes(ascii("hello")))).toBeNull();
});

test("probeLayout: frames and alpha from the structure of real files", () => {
  expect(probeLayout(read("animated-loop-3.gif"), "gif")).toEqual({ frames: 10, hasAlpha: true });
  expect(probeLayout(read("animated-loop-3.webp"), "webp").frames).toBe(10);
  expect(probeLayout(read("big-height.webp"), "webp").frames).toBe(97);
  expect(probeLayout(read("with-alpha.png"), "png")).toEqual({ frames: 1, hasAlpha: true });
  expect(probeLayout(read("gradients-rgb8.png"), "png")).toEqual({ frames: 1, hasAlpha: false });
  expect(probeLayout(read("5_webp_a.webp"), "webp").hasAlpha).toBe(true);
  expect(probeLayout(read("4.webp"), "webp")).toEqual({ frames: 1, hasAlpha: false });
  expect(probeLayout(read("flowers.jpeg"), "jpeg")).toEqual({ frames: 1, hasAlpha: false });
  expect(probeLayout(read("iphone-like-10bit-orientation-6.heic"), "heic")).toEqual({ frames: 1, hasAlpha: false });
  // A cut-off GIF counts the frames it has.
  const gif = read("animated-loop-3.gif");
  expect(probeLayout(gif.subarray(0, gif.length >> 1), "gif").frames).toBeLessThan(10);
});
