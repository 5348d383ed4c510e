import { describe, expect, test } from "bun:test";
import type { TransformSpec } from "../../codecs/types.ts";
import { imgwireSpec, negotiate, SIZE_PRESETS, splitImgwireQuery } from "../../src/domain/delivery/imgwire.ts";
import { canonicalSpec } from "../../src/domain/delivery/spec.ts";
import {
  type Defaults,
  nativeSpec,
  type NativeParams,
  parseParams,
  splitQuery,
} from "../../src/domain/delivery/native.ts";
import { AppError } from "../../src/domain/errors.ts";

// The URL → canonical spec parsers of every dialect, without a server: the native one (img-src's
// w/h/fit/q/p:preset and extension, img.pro's ?size=, and AssetsRepo, which hands its query to
// the same parser) and Imgwire's. Requests that mean the same must give equal specs (they share
// one cached variant); bad options are a 400 naming the option.

const JPEG = { width: 1000, height: 800, format: "jpeg" };
const DEFAULTS: Defaults = { fit: "cover", quality: 80, maxWidth: null, maxHeight: null };

const q = (s: string) => new URLSearchParams(s);
/** The native dialect end to end: query → params (+ preset) → spec. */
const native = (
  search: string,
  ext: TransformSpec["format"] | null = "webp",
  src = JPEG,
  opts: { preset?: NativeParams; defaults?: Partial<Defaults> } = {},
) => nativeSpec(parseParams(splitQuery(q(search)).params), opts.preset, ext, src, { ...DEFAULTS, ...opts.defaults });

/** The AppError a call throws: status and the field it names. */
function refusal(f: () => unknown): { status: number; field?: string; message: string } {
  try {
    f();
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { status: err.status, field: err.extra.field, message: err.message };
  }
  throw new Error("did not throw");
}

describe("native (img-src, img.pro ?size=, AssetsRepo)", () => {
  test("splitQuery: options, one preset, the signature; repeats and unknown keys are refused", () => {
    expect(splitQuery(q("w=10&p:thumb&token=t&expires=9"))).toEqual({
      params: { w: "10" },
      preset: "thumb",
      token: "t",
      expires: "9",
    });
    expect(refusal(() => splitQuery(q("w=1&w=2")))).toMatchObject({
      status: 400,
      field: "w",
      message: "w: given more than once",
    });
    expect(refusal(() => splitQuery(q("p:a&p:b")))).toMatchObject({
      status: 400,
      message: "p: only one preset per URL",
    });
    expect(refusal(() => splitQuery(q("width=10")))).toMatchObject({ status: 400, field: "width" });
    expect(splitQuery(q("blur=3"), ["blur"]).params).toEqual({ blur: "3" });
  });

  test("parseParams: ranges and names, with the option in the message", () => {
    expect(parseParams({ w: "300", h: "10000", q: "1", fit: "scale-down", size: "m", format: "jpg" })).toEqual({
      w: 300,
      h: 10000,
      q: 1,
      fit: "scale-down",
      size: "m",
      format: "jpg",
    });
    for (const [input, field] of [
      [{ w: "0" }, "w"],
      [{ w: "10001" }, "w"],
      [{ w: "1.5" }, "w"],
      [{ w: "-3" }, "w"],
      [{ h: "abc" }, "h"],
      [{ q: "101" }, "q"],
      [{ fit: "stretch" }, "fit"],
      [{ size: "xl" }, "size"],
      [{ format: "bmp" }, "format"],
    ] as const) {
      const r = refusal(() => parseParams(input));
      expect(r).toMatchObject({ status: 400, field });
      expect(r.message.startsWith(`${field}: `)).toBe(true);
    }
    expect(refusal(() => parseParams({ x: "1" }, "params"))).toMatchObject({ status: 400, field: "params.x" });
  });

  test("nothing asked: the original (null); the extension alone converts", () => {
    expect(native("", "jpeg")).toBeNull();
    expect(native("", null)).toBeNull();
    expect(native("", "webp")).toEqual({
      fit: "inside",
      enlarge: false,
      gravity: "centre",
      format: "webp",
      quality: 80,
      keepMetadata: false,
    });
    // A source browsers cannot show is converted even without asking.
    expect(native("", null, { width: 10, height: 10, format: "heic" })?.format).toBe("webp");
    expect(native("", null, { width: 10, height: 10, format: "svg" })?.format).toBe("png");
  });

  test("w/h/fit/q", () => {
    expect(native("w=300")).toEqual({
      fit: "inside",
      enlarge: true,
      gravity: "centre",
      format: "webp",
      quality: 80,
      keepMetadata: false,
      width: 300,
    });
    expect(native("w=300&h=200&fit=cover&q=55")).toMatchObject({
      fit: "cover",
      enlarge: true,
      width: 300,
      height: 200,
      quality: 55,
    });
    expect(native("w=300&h=200&fit=contain")).toMatchObject({ fit: "inside", enlarge: true });
    expect(native("w=300&h=200&fit=fill")).toMatchObject({ fit: "fill", enlarge: true });
    expect(native("w=300&h=200&fit=scale-down")).toMatchObject({ fit: "inside", enlarge: false });
    // The tenant's default fit applies when the URL names none; an unknown default is contain.
    expect(native("w=300&h=200", "webp", JPEG, { defaults: { fit: "fill" } })).toMatchObject({ fit: "fill" });
    expect(native("w=300&h=200", "webp", JPEG, { defaults: { fit: "bogus" } })).toMatchObject({
      fit: "inside",
      enlarge: true,
    });
  });

  test("equal requests give equal specs: a fit without a box means nothing", () => {
    expect(native("w=300&fit=cover")).toEqual(native("w=300&fit=fill")!);
    expect(native("w=300")).toEqual(native("w=300&fit=contain")!);
    expect(native("q=80")).toEqual(native("", "webp")!);
  });

  test("img.pro's size: the short edge, never upscaled, not with w or h", () => {
    expect(native("size=s", null)).toMatchObject({ fit: "inside", enlarge: false, height: 320, format: "webp" });
    expect(native("size=m", null, { width: 800, height: 1200, format: "png" })).toMatchObject({
      width: 640,
      format: "webp",
    });
    expect(native("size=l", "jpeg")).toMatchObject({ fit: "inside", enlarge: false, format: "jpeg" });
    expect(native("size=l", "jpeg")?.width).toBeUndefined(); // 800 px short edge < 1080: only converted
    expect(refusal(() => native("size=s&w=10"))).toMatchObject({ status: 400, field: "size" });
  });

  test("presets: URL options win, the preset's format applies unless the extension converts", () => {
    const preset = parseParams({ w: "100", h: "100", fit: "cover", format: "png" });
    expect(native("", null, JPEG, { preset })).toMatchObject({ width: 100, height: 100, fit: "cover", format: "png" });
    expect(native("w=50", null, JPEG, { preset })).toMatchObject({ width: 50, height: 100, format: "png" });
    expect(native("", "avif", JPEG, { preset })).toMatchObject({ format: "avif" });
    expect(native("", "jpeg", JPEG, { preset })).toMatchObject({ format: "png" });
  });

  test("the tenant's largest size bounds an unsized request", () => {
    expect(native("", "webp", JPEG, { defaults: { maxWidth: 500 } })).toMatchObject({
      fit: "inside",
      enlarge: false,
      width: 500,
    });
    expect(native("w=900", "webp", JPEG, { defaults: { maxWidth: 500 } })).toMatchObject({ width: 900 });
  });
});

describe("Imgwire", () => {
  const iw = (search: string, opts: { accept?: string; preset?: Record<string, string>; src?: typeof JPEG } = {}) =>
    imgwireSpec(splitImgwireQuery(q(search)), opts.preset, opts.src ?? JPEG, {
      accept: opts.accept,
      defaultQuality: 80,
    });

  test("canonical form: no-op effects vanish and fractions round, so equal requests share a variant", () => {
    const c = (search: string) => canonicalSpec(iw(`f=jpg&${search}`).spec);
    expect(c("rotate=360")).toEqual(c(""));
    expect(c("rotate=-90")).toEqual(c("rotate=270:ff0000")); // right angles uncover no corners
    expect(c("blur=2.0001")).toEqual(c("blur=2"));
    expect(c("br=1&sa=1&hue=360")).toEqual(c(""));
    expect(c("a=1.5:2")).toEqual(c("sa=2&br=1.5"));
    expect(c("pd=0")).toEqual(c(""));
    expect(c("ra=lanczos3")).toEqual(c(""));
    expect(c("mc=false&neg=false&norm=false&progressive=auto&cp=srgb&chroma_subsampling=auto")).toEqual(c(""));
  });

  test("aliases: each parameter by any one of its names; two names or a repeat are refused", () => {
    expect(iw("w=100&h=50&resizing_type=fill")).toEqual(iw("width=100&height=50&resizing_type=fill"));
    expect(iw("f=png&q=70")).toEqual(iw("format=png&quality=70"));
    expect(iw("ext=png")).toEqual(iw("extension=png"));
    expect(refusal(() => splitImgwireQuery(q("w=1&width=2")))).toMatchObject({
      status: 400,
      field: "width",
      message: "width: w and width both set width",
    });
    expect(refusal(() => splitImgwireQuery(q("w=1&w=2")))).toMatchObject({
      status: 400,
      message: "w: given more than once",
    });
    expect(refusal(() => splitImgwireQuery(q("blurry=2")))).toMatchObject({ status: 400, field: "blurry" });
  });

  test("dpr multiplies the box, rounding; ranges are checked", () => {
    expect(iw("w=100&h=33&dpr=1.5&f=webp").spec).toMatchObject({ width: 150, height: 50 });
    expect(iw("w=3&dpr=0.1&f=webp").spec).toMatchObject({ width: 1 });
    for (const bad of [
      "dpr=0",
      "dpr=9",
      "dpr=abc",
      "w=0",
      "w=8193",
      "q=0",
      "q=101",
      "resizing_type=stretch",
      "el=maybe",
      "f=bmp",
    ]) {
      expect(refusal(() => iw(bad)).status).toBe(400);
    }
  });

  test("format: auto follows Accept (AVIF, WebP, else the source's kind) and says so", () => {
    expect(iw("", { accept: "image/avif,image/webp,*/*" })).toMatchObject({
      spec: { format: "avif" },
      autoFormat: true,
    });
    expect(iw("f=auto", { accept: "image/webp" }).spec.format).toBe("webp");
    expect(iw("").spec.format).toBe("jpeg");
    expect(iw("", { src: { width: 10, height: 10, format: "gif" } }).spec.format).toBe("png");
    expect(iw("f=jpg", { accept: "image/avif" })).toMatchObject({ spec: { format: "jpeg" }, autoFormat: false });
    expect(negotiate(undefined, { width: 1, height: 1, format: "png" })).toBe("png");
  });

  test("resizing types map onto the pipeline's fits; the canonical form drops what cannot matter", () => {
    expect(iw("w=10&h=10&resizing_type=force&f=png").spec.fit).toBe("fill");
    expect(iw("w=10&h=10&resizing_type=fill-down&f=png").spec.fit).toBe("inside");
    expect(iw("w=10&resizing_type=cover&f=png").spec).toEqual(iw("w=10&f=png").spec);
    expect(iw("w=10&h=10&gravity=no&f=png").spec.gravity).toBe("centre"); // no crop: gravity means nothing
    expect(iw("w=10&h=10&resizing_type=cover&gravity=no&f=png").spec.gravity).toBe("north");
    expect(iw("w=10&h=10&resizing_type=cover&g=ce:sm&f=png").spec.gravity).toBe("attention");
    expect(iw("w=10&h=10&resizing_type=cover&g=ce:5:0&f=png").spec.offset).toEqual([5, 0]);
    expect(iw("w=10&h=10&resizing_type=cover&g=fp:0.25:1&f=png").spec).toMatchObject({
      gravity: "centre",
      focus: [0.25, 1],
    });
    expect(iw("w=10&h=10&g=ce:5:0&f=png").spec.offset).toBeUndefined(); // no cut, nothing to shift
    expect(refusal(() => iw("w=10&h=10&resizing_type=cover&g=fp:2:0"))).toMatchObject({ status: 400, field: "g" });
    expect(iw("bg=fff&f=png").spec.background).toBeUndefined(); // only contain pads
    expect(iw("w=10&h=10&resizing_type=contain&bg=fff&f=png").spec.background).toEqual([255, 255, 255, 255]);
    expect(iw("bg=10:20:30&f=jpg").spec.background).toEqual([10, 20, 30, 255]); // JPEG flattens alpha onto it
    expect(refusal(() => iw("bg=12345&f=png")).status).toBe(400);
    expect(refusal(() => iw("bg=1:2:300&f=png")).status).toBe(400);
  });

  test("crop: pixels or fractions, with gravity or an offset, clamped to the source", () => {
    expect(iw("c=0.5:0.5&f=png").spec.crop).toEqual({ left: 250, top: 200, width: 500, height: 400 });
    expect(iw("c=100:100:sowe&f=png").spec.crop).toEqual({ left: 0, top: 700, width: 100, height: 100 });
    expect(iw("c=990:790:50:50&f=png").spec.crop).toEqual({ left: 990, top: 790, width: 10, height: 10 });
    expect(iw("c=5000:5000&f=png").spec.crop).toEqual({ left: 0, top: 0, width: 1000, height: 800 });
    expect(refusal(() => iw("c=abc&f=png")).status).toBe(400);
  });

  test("quality: none is the tenant's default, auto an SSIM target under a fixed ceiling; metadata is stripped unless sm=false", () => {
    expect(iw("f=jpg").spec.quality).toBe(80);
    expect(iw("q=auto&f=jpg").spec).toMatchObject({ quality: 90, autoQuality: { ssim: 0.97 } });
    expect(iw("q=33&f=jpg").spec.quality).toBe(33);
    expect(iw("f=jpg").spec.keepMetadata).toBe(false);
    expect(iw("sm=false&f=jpg").spec.keepMetadata).toBe(true);
  });

  test("the SDK's size presets, under the URL's own parameters", () => {
    expect(iw("f=png", { preset: SIZE_PRESETS.thumbnail }).spec).toMatchObject({
      width: 150,
      height: 150,
      fit: "cover",
    });
    expect(iw("w=200&f=png", { preset: SIZE_PRESETS.small }).spec.width).toBe(200);
  });
});
