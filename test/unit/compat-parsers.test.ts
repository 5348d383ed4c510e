import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { parseCloudflareOptions } from "../../src/domain/delivery/cloudflare.ts";
import { compatDelivery, type Mapped } from "../../src/domain/delivery/compat.ts";
import { resolveSource, type SourceHosts } from "../../src/domain/delivery/source.ts";
import { isImgixQuery, parseImgixQuery } from "../../src/domain/delivery/imgix.ts";
import { parseIpxModifiers } from "../../src/domain/delivery/ipx.ts";
import { acceptClass, negotiate } from "../../src/domain/delivery/negotiate.ts";
import { canonicalOptions } from "../../src/domain/delivery/signing.ts";
import { finalize } from "../../src/domain/delivery/spec.ts";
import { AppError } from "../../src/domain/errors.ts";

// The compatible URL shapes' parsers, negotiation and the signature's canonical options, without
// a server: what each shape's words become, and that no input makes anything but a 400.

const params = (m: Mapped) => Object.fromEntries(m.params);
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (e instanceof AppError) return { status: e.status, field: e.extra.field, message: e.message };
    throw e;
  }
  throw new Error("not refused");
};
const JPEG = { width: 800, height: 600, format: "jpeg" };
const PNG = { width: 800, height: 600, format: "png" };

describe("IPX modifiers", () => {
  test("every separator IPX reads, and the modifiers' Imgwire meaning", () => {
    expect(params(parseIpxModifiers("w_200,h:100&q=70"))).toEqual({ width: "200", height: "100", quality: "70" });
    expect(params(parseIpxModifiers("s_200x100,fit_contain,pos_right%20top,b_ff0000,f_webp"))).toEqual({
      width: "200",
      height: "100",
      resizing_type: "contain",
      gravity: "northeast",
      background: "ff0000",
      format: "webp",
    });
    expect(params(parseIpxModifiers("s_50"))).toMatchObject({ width: "50", height: "50", resizing_type: "cover" });
    expect(params(parseIpxModifiers("extract_1_2_30_40,flip,flop,grayscale,modulate_1.1_0.9"))).toEqual({
      crop: "1:2:30:40",
      flip: "both",
      monochrome: "true",
      brightness: "1.1",
      saturation: "0.9",
    });
    expect(params(parseIpxModifiers("_"))).toEqual({});
    expect(params(parseIpxModifiers("blur,animated"))).toEqual({ blur: "true" });
  });

  test("two modifiers for one thing, and what has no counterpart, are refused by name", () => {
    expect(refusal(() => parseIpxModifiers("w_10,width_20"))).toMatchObject({ status: 400, field: "width" });
    expect(refusal(() => parseIpxModifiers("trim_5"))).toMatchObject({ status: 400, field: "trim" });
    expect(refusal(() => parseIpxModifiers("s_10x"))).toMatchObject({ status: 400, field: "s" });
    expect(refusal(() => parseIpxModifiers("w"))).toMatchObject({ status: 400, field: "w" });
    expect(refusal(() => parseIpxModifiers("%E0%A4%A"))).toMatchObject({ status: 400, field: "modifiers" });
  });
});

describe("Cloudflare options and imgix parameters", () => {
  test("Cloudflare's fits and defaults", () => {
    expect(params(parseCloudflareOptions("width=100"))).toEqual({ width: "100", resizing_type: "inside" });
    expect(params(parseCloudflareOptions("w=100,h=50,fit=crop,g=top,f=baseline-jpeg"))).toEqual({
      width: "100",
      height: "50",
      resizing_type: "cover",
      gravity: "north",
      format: "jpeg",
    });
    expect(params(parseCloudflareOptions("fit=pad,background=%23fff,onerror=redirect"))).toEqual({
      resizing_type: "contain",
      enlarge: "true",
      background: "#fff",
    });
    expect(refusal(() => parseCloudflareOptions("width"))).toMatchObject({ status: 400 });
    expect(refusal(() => parseCloudflareOptions("rotate=45"))).toMatchObject({ status: 400, field: "rotate" });
  });

  test("imgix: what makes a /i/ query imgix, and its fits and crops", () => {
    const q = (s: string) => new URLSearchParams(s);
    expect(isImgixQuery(q("w=10&fit=cover"))).toBe(false);
    expect(isImgixQuery(q("w=10&fit=fill"))).toBe(false);
    expect(isImgixQuery(q("w=10&fit=max"))).toBe(true);
    expect(isImgixQuery(q("w=10&fm=webp"))).toBe(true);
    expect(isImgixQuery(q("fit=facearea"))).toBe(true);
    expect(params(parseImgixQuery(q("w=10&h=10&fit=crop&crop=bottom,right&token=x&expires=1")))).toEqual({
      width: "10",
      height: "10",
      gravity: "southeast",
      resizing_type: "cover",
      enlarge: "true",
    });
    // An explicit fm wins over auto=format; gravity only where something is cropped.
    expect(params(parseImgixQuery(q("fm=png&auto=format,compress&crop=top")))).toEqual({
      format: "png",
      resizing_type: "inside",
      enlarge: "true",
    });
    expect(params(parseImgixQuery(q("auto=format")))).toMatchObject({ format: "auto" });
    expect(refusal(() => parseImgixQuery(q("w=1&w=2")))).toMatchObject({ status: 400, field: "w" });
  });

  test("a bare path names the tenant first; /i/ and imgd's own URLs name the same image", () => {
    const hosts: SourceHosts = {
      basePath: "",
      publicHost: "img.example.org",
      requestHost: "127.0.0.1:8080",
      isOwn: (h) => h.startsWith("127.0.0.1"),
    };
    const rules = { option: "path" };
    const split = (raw: string) => resolveSource(raw, hosts, rules);
    const same = { kind: "stored" as const, username: "admin", path: "a/b c.jpg" };
    expect(split("admin/a/b%20c.jpg")).toEqual(same);
    expect(split("i/admin/a/b%20c.jpg")).toEqual(same);
    expect(split("http://127.0.0.1:8080/i/admin/a/b%20c.jpg")).toEqual(same);
    expect(split("https:/img.example.org/i/admin/a/b%20c.jpg")).toEqual(same);
    expect(split("http%3A%2F%2Fimg.example.org%2Fi%2Fadmin%2Fa%2Fb%2520c.jpg")).toEqual(same);
    expect(refusal(() => split("photo.jpg"))).toMatchObject({ status: 400 });
    expect(refusal(() => split("admin/"))).toMatchObject({ status: 400 });
    // Another host, or the request's own Host when imgd does not answer as itself on it.
    expect(refusal(() => split("http://img.example.com/i/admin/a.jpg"))).toMatchObject({ status: 400 });
    const foreign = { ...hosts, requestHost: "evil.example" };
    expect(refusal(() => resolveSource("http://evil.example/i/admin/a.jpg", foreign, rules))).toMatchObject({
      status: 400,
    });
    expect(refusal(() => split("local:///admin/a.jpg"))).toMatchObject({ status: 400 });
    expect(resolveSource("local:///admin/a.jpg", hosts, { ...rules, local: true })).toMatchObject({
      username: "admin",
      path: "a.jpg",
    });
    expect(refusal(() => split("ftp://127.0.0.1:8080/i/admin/a.jpg"))).toMatchObject({ status: 400 });
  });
});

describe("negotiation and signatures", () => {
  test("Accept classes: only named types count, q=0 refuses", () => {
    expect(acceptClass("*/*")).toBe("");
    expect(acceptClass("image/avif,image/webp,*/*;q=0.8")).toBe("aw");
    expect(acceptClass("image/webp;q=0, image/avif;q=0.9")).toBe("a");
    expect(acceptClass("image/jxl")).toBe("x");
    expect(acceptClass(undefined)).toBe("");
  });

  test("the tenant's order, filtered by Accept; JPEG or PNG when nothing named fits", () => {
    expect(negotiate("image/avif,image/webp", ["webp", "avif", "jpeg"], JPEG)).toBe("webp");
    expect(negotiate("image/avif,image/webp", ["avif", "webp"], JPEG)).toBe("avif");
    expect(negotiate("*/*", ["avif", "webp"], JPEG)).toBe("jpeg");
    expect(negotiate("*/*", ["avif", "webp"], PNG)).toBe("png");
    expect(negotiate("image/avif", ["jpeg", "avif"], PNG)).toBe("png");
    expect(negotiate("image/jxl,image/avif", ["jxl", "avif"], JPEG)).toBe("jxl");
  });

  test("the options a signature covers: order-free, signature keys left out", () => {
    const c = (s: string) => canonicalOptions(new URLSearchParams(s));
    expect(c("w=1&h=2&token=t&expires=9")).toBe(c("h=2&sig=x&w=1&exp=3"));
    expect(c("w=1&h=2")).not.toBe(c("w=1&h=2&q=5"));
    expect(c("a=2&a=1")).toBe(c("a=1&a=2"));
  });
});

describe("fuzz: any shape's URL gives a 400 or a spec the pipeline can run", () => {
  const word = fc.constantFrom(
    "w",
    "h",
    "s",
    "f",
    "q",
    "fit",
    "pos",
    "b",
    "width",
    "height",
    "format",
    "quality",
    "gravity",
    "background",
    "rotate",
    "flip",
    "blur",
    "sharpen",
    "extract",
    "extend",
    "modulate",
    "kernel",
    "dpr",
    "crop",
    "fm",
    "auto",
    "sharp",
    "metadata",
    "anim",
  );
  const value = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.integer({ min: -5, max: 100_000 }).map(String),
    fc.constantFrom("auto", "webp", "cover", "contain", "100x50", "0.5", "ff0000", "top", "1_2_3_4", "format"),
  );
  const pairs = fc.array(fc.tuple(word, value), { maxLength: 6 });

  const run = (mapped: () => Mapped) => {
    let m: Mapped;
    try {
      m = mapped();
    } catch (e) {
      if (e instanceof AppError && e.status === 400) return;
      throw e;
    }
    const req = compatDelivery(
      {
        username: "u",
        path: "p.jpg",
        search: new URLSearchParams(),
        accept: "image/avif,image/webp",
      },
      { mapped: m, defaultFormat: () => "jpeg" },
    );
    try {
      const out = req.spec(
        {
          user: { default_quality: 80, delivery_formats: '["webp","avif","jpeg"]' } as never,
          image: { ...JPEG } as never,
          preset: async () => undefined,
          negotiate: () => "webp",
          watermarkImage: async () => ({ hash: "x", bytes: new Uint8Array() }),
          watermarkUrl: async () => ({ hash: "x", bytes: new Uint8Array() }),
        } as never,
        undefined,
      );
      const { spec } = out as { spec: Parameters<typeof finalize>[0] };
      finalize(spec, JPEG, 100_000_000);
    } catch (e) {
      if (e instanceof AppError && e.status === 400) return;
      throw e;
    }
  };

  test("IPX", () => {
    fc.assert(
      fc.property(pairs, (ps) => run(() => parseIpxModifiers(ps.map(([k, v]) => `${k}_${v}`).join(",")))),
      { numRuns: 800 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (raw) => run(() => parseIpxModifiers(raw))),
      { numRuns: 800 },
    );
  });

  test("Cloudflare", () => {
    fc.assert(
      fc.property(pairs, (ps) => run(() => parseCloudflareOptions(ps.map(([k, v]) => `${k}=${v}`).join(",")))),
      { numRuns: 800 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (raw) => run(() => parseCloudflareOptions(raw))),
      {
        numRuns: 800,
      },
    );
  });

  test("imgix", () => {
    fc.assert(
      fc.property(pairs, (ps) => run(() => parseImgixQuery(new URLSearchParams(ps)))),
      { numRuns: 800 },
    );
  });
});
