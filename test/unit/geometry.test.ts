import { describe, test } from "bun:test";
import fc from "fast-check";
import { plan, shrinkOnLoad } from "../../codecs/geometry.ts";
import { avifTooLarge, type Fit, type OutputFormat, type TransformSpec } from "../../codecs/types.ts";
import { canonicalJson, finalize, outputSize, variantKey } from "../../src/domain/delivery/spec.ts";
import { AppError } from "../../src/domain/errors.ts";

// The size arithmetic (codecs/geometry.ts) and the spec's last word before caching (finalize,
// outputSize, variantKey in src/domain/delivery/spec.ts), as properties over any source and request.
// test/codecs/geometry.test.ts has the worked examples; these are the rules they follow.

const side = fc.integer({ min: 1, max: 12_000 });
const fits: Fit[] = ["cover", "contain", "fill", "inside", "outside"];
const request = fc.record({
  width: fc.option(side, { nil: undefined }),
  height: fc.option(side, { nil: undefined }),
  fit: fc.constantFrom(...fits),
  enlarge: fc.boolean(),
});
const RUNS = { numRuns: 2000 };

describe("plan (codecs/geometry.ts)", () => {
  test("sizes are whole numbers of at least 1", () => {
    fc.assert(
      fc.property(side, side, request, (sw, sh, r) => {
        const p = plan(sw, sh, r);
        for (const box of [p.resize, p.box].filter(Boolean)) {
          for (const n of [box!.width, box!.height]) if (!Number.isInteger(n) || n < 1) return false;
        }
        return true;
      }),
      RUNS,
    );
  });

  test("no size: the source as it is; a box only for cover and contain", () => {
    fc.assert(
      fc.property(side, side, request, (sw, sh, r) => {
        const p = plan(sw, sh, r);
        if (r.width === undefined && r.height === undefined)
          return p.resize.width === sw && p.resize.height === sh && !p.box;
        return (
          p.box === undefined ||
          ((r.fit === "cover" || r.fit === "contain") && r.width !== undefined && r.height !== undefined)
        );
      }),
      RUNS,
    );
  });

  test("enlarge: false never makes the resize larger than the source", () => {
    fc.assert(
      fc.property(side, side, request, (sw, sh, r) => {
        const p = plan(sw, sh, { ...r, enlarge: false });
        return (
          p.resize.width <= sw &&
          p.resize.height <= sh &&
          (!p.box || r.fit === "contain" || (p.box.width <= sw && p.box.height <= sh))
        );
      }),
      RUNS,
    );
  });

  test("one side given: it is met exactly (unless that would enlarge), the other follows the ratio", () => {
    fc.assert(
      fc.property(
        side,
        side,
        side,
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(...fits),
        (sw, sh, t, byWidth, enlarge, fit) => {
          const p = plan(sw, sh, byWidth ? { width: t, fit, enlarge } : { height: t, fit, enlarge });
          const [given, src, other, otherSrc] = byWidth
            ? [p.resize.width, sw, p.resize.height, sh]
            : [p.resize.height, sh, p.resize.width, sw];
          const s = enlarge ? t / src : Math.min(1, t / src);
          if (given !== (s === t / src ? t : Math.max(1, Math.round(src * s)))) return false;
          return other === Math.max(1, Math.round(otherSrc * s));
        },
      ),
      RUNS,
    );
  });

  test("with a box: inside fits in it, outside covers it, cover fills its box, contain fits its box, fill is the box", () => {
    fc.assert(
      fc.property(side, side, side, side, (sw, sh, tw, th) => {
        const at = (fit: Fit) => plan(sw, sh, { width: tw, height: th, fit, enlarge: true });
        const inside = at("inside").resize;
        const outside = at("outside").resize;
        const cover = at("cover");
        const contain = at("contain");
        return (
          inside.width <= tw &&
          inside.height <= th &&
          (inside.width === tw || inside.height === th) &&
          outside.width >= tw &&
          outside.height >= th &&
          (outside.width === tw || outside.height === th) &&
          cover.box!.width === tw &&
          cover.box!.height === th &&
          cover.resize.width >= tw &&
          cover.resize.height >= th &&
          contain.box!.width === tw &&
          contain.box!.height === th &&
          contain.resize.width <= tw &&
          contain.resize.height <= th &&
          Bun.deepEquals(at("fill"), { resize: { width: tw, height: th } })
        );
      }),
      RUNS,
    );
  });

  test("inside, outside, cover and contain keep the source's aspect ratio (to the rounding)", () => {
    fc.assert(
      fc.property(
        side,
        side,
        side,
        side,
        fc.constantFrom<Fit>("inside", "outside", "cover", "contain"),
        (sw, sh, tw, th, fit) => {
          const { width: rw, height: rh } = plan(sw, sh, { width: tw, height: th, fit, enlarge: true }).resize;
          if (Math.min(rw, rh) <= 1) return true; // clamped to one pixel: no ratio left to keep
          // rw = sw·s ± ½ and rh = sh·s ± ½ for one scale s, so rw·sh − rh·sw is within (sw + sh) / 2.
          return Math.abs(rw * sh - rh * sw) <= (sw + sh) / 2 + 1e-6;
        },
      ),
      RUNS,
    );
  });

  test("shrinkOnLoad: the largest power of two that still decodes at least the target", () => {
    fc.assert(
      fc.property(side, side, side, side, (sw, sh, tw, th) => {
        const target = { width: Math.min(tw, sw), height: Math.min(th, sh) };
        const k = shrinkOnLoad(sw, sh, target);
        if (![1, 2, 4, 8].includes(k)) return false;
        const fits = (n: number) => sw / n >= target.width - 1e-9 && sh / n >= target.height - 1e-9;
        return fits(k) && (k === 8 || !fits(k * 2));
      }),
      RUNS,
    );
  });
});

describe("finalize, outputSize and variantKey (src/domain/delivery/spec.ts)", () => {
  const formats: OutputFormat[] = ["webp", "avif", "jpeg", "png", "jxl", "gif"];
  const spec: fc.Arbitrary<TransformSpec> = fc.record({
    width: fc.option(side, { nil: undefined }),
    height: fc.option(side, { nil: undefined }),
    fit: fc.constantFrom(...fits),
    enlarge: fc.boolean(),
    gravity: fc.constantFrom("centre", "north", "attention"),
    format: fc.constantFrom(...formats),
    quality: fc.integer({ min: 1, max: 100 }),
    keepMetadata: fc.boolean(),
  }) as fc.Arbitrary<TransformSpec>;
  const source = fc.record({ width: side, height: side, format: fc.constantFrom("jpeg", "png", "heic") });
  const LIMIT = 50_000_000;

  test("outputSize is the box if there is one, else the resize, of the crop when there is one", () => {
    fc.assert(
      fc.property(spec, source, (sp, src) => {
        const crop = { left: 0, top: 0, width: Math.ceil(src.width / 2), height: Math.ceil(src.height / 3) };
        const p = plan(crop.width, crop.height, sp);
        return Bun.deepEquals(outputSize({ ...sp, crop }, src), p.box ?? p.resize);
      }),
      RUNS,
    );
  });

  test("finalize: over the pixel limit is a 400; AVIF too large becomes WebP; lossless formats drop quality; idempotent", () => {
    fc.assert(
      fc.property(spec, source, (sp, src) => {
        const out = outputSize(sp, src);
        let f: TransformSpec;
        try {
          f = finalize(sp, src, LIMIT);
        } catch (err) {
          return err instanceof AppError && err.status === 400 && out.width * out.height > LIMIT;
        }
        if (out.width * out.height > LIMIT) return false;
        const expectedFormat = sp.format === "avif" && avifTooLarge(out.width, out.height) ? "webp" : sp.format;
        if (f.format !== expectedFormat) return false;
        if (f.quality !== (f.format === "png" || f.format === "gif" ? 100 : sp.quality)) return false;
        const { format: _a, quality: _b, ...rest } = f;
        const { format: _c, quality: _d, ...before } = sp;
        return Bun.deepEquals(rest, before) && Bun.deepEquals(finalize(f, src, LIMIT), f);
      }),
      RUNS,
    );
  });

  test("variantKey: the order of a spec's keys and undefined members change nothing; any value does", () => {
    fc.assert(
      fc.property(spec, fc.string({ minLength: 64, maxLength: 64 }), (sp, hash) => {
        const shuffled = Object.fromEntries(
          Object.entries({ ...sp, crop: undefined }).reverse(),
        ) as unknown as TransformSpec;
        if (variantKey(hash, shuffled) !== variantKey(hash, sp)) return false;
        if (canonicalJson(shuffled) !== canonicalJson(sp)) return false;
        return (
          variantKey(hash, { ...sp, quality: sp.quality === 1 ? 2 : sp.quality - 1 }) !== variantKey(hash, sp) &&
          variantKey(`${hash}x`, sp) !== variantKey(hash, sp)
        );
      }),
      { numRuns: 500 },
    );
  });
});
