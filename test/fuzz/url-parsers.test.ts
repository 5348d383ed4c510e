import { describe, test } from "bun:test";
import fc from "fast-check";
import type { Fit, Gravity, OutputFormat, TransformSpec } from "../../codecs/types.ts";
import {
  IMGWIRE_PARAMETER_NAMES,
  imgwireSpec,
  SIZE_PRESETS,
  splitImgwireQuery,
} from "../../src/domain/delivery/imgwire.ts";
import { nativeSpec, parseParams, splitQuery } from "../../src/domain/delivery/native.ts";
import { finalize } from "../../src/domain/delivery/spec.ts";
import { AppError } from "../../src/domain/errors.ts";

// Every URL dialect's parser on any query string: a 400 (an AppError with status 400) or a
// spec the pipeline can run, never another exception (which the server would turn into a 500).
// Queries are drawn both as raw text and built from the dialects' own names with wild values.

const FITS: Fit[] = ["cover", "contain", "fill", "inside", "outside"];
const GRAVITIES: Gravity[] = [
  "centre",
  "north",
  "south",
  "east",
  "west",
  "northeast",
  "northwest",
  "southeast",
  "southwest",
  "attention",
  "entropy",
];
const FORMATS: OutputFormat[] = ["webp", "avif", "jpeg", "png", "jxl", "gif"];
const LIMIT = 100_000_000;

/** What the pipeline needs of a spec: known names, whole numbers in range, a crop inside the source. */
function valid(spec: TransformSpec, src: { width: number; height: number }): string | null {
  const whole = (n: unknown, max: number) => typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= max;
  if (!FITS.includes(spec.fit)) return `fit ${spec.fit}`;
  if (!GRAVITIES.includes(spec.gravity)) return `gravity ${spec.gravity}`;
  if (!FORMATS.includes(spec.format)) return `format ${spec.format}`;
  if (!whole(spec.quality, 100)) return `quality ${spec.quality}`;
  if (typeof spec.enlarge !== "boolean" || typeof spec.keepMetadata !== "boolean") return "flags";
  if (spec.width !== undefined && !whole(spec.width, 100_000)) return `width ${spec.width}`;
  if (spec.height !== undefined && !whole(spec.height, 100_000)) return `height ${spec.height}`;
  if (
    spec.background &&
    (spec.background.length !== 4 || !spec.background.every((c) => Number.isInteger(c) && c >= 0 && c <= 255))
  )
    return "background";
  const c = spec.crop;
  if (
    c &&
    !(
      Number.isInteger(c.left) &&
      Number.isInteger(c.top) &&
      c.left >= 0 &&
      c.top >= 0 &&
      whole(c.width, src.width) &&
      whole(c.height, src.height) &&
      c.left + c.width <= src.width &&
      c.top + c.height <= src.height
    )
  ) {
    return `crop ${JSON.stringify(c)}`;
  }
  const bad = nonFinite(spec);
  if (bad) return `not a finite number at ${bad}`;
  return null;
}

/** The path of a NaN or infinite number anywhere in the spec, if any. */
function nonFinite(v: unknown, path = "spec"): string | null {
  if (typeof v === "number") return Number.isFinite(v) ? null : path;
  if (v && typeof v === "object")
    for (const [k, x] of Object.entries(v)) {
      const found = nonFinite(x, `${path}.${k}`);
      if (found) return found;
    }
  return null;
}

/** Runs `parse`; a 400 AppError is a fine answer, any other throw fails the property. */
function answers(parse: () => TransformSpec | null, src: { width: number; height: number }) {
  let spec: TransformSpec | null;
  try {
    spec = parse();
  } catch (err) {
    if (err instanceof AppError && err.status === 400) return true;
    throw err;
  }
  if (spec === null) return true;
  const why = valid(spec, src);
  if (why) throw new Error(`invalid spec (${why}): ${JSON.stringify(spec)}`);
  return true;
}

const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "grapheme", maxLength: 6 }),
  fc.integer({ min: -100, max: 20000 }).map(String),
  fc.double().map(String),
  fc.constantFrom(
    "",
    "0",
    "1",
    "auto",
    "true",
    "ce:sm",
    "0.5:0.5",
    "1:1:1:1",
    "#fff",
    "ce:0:0",
    "NaN",
    "1e3",
    "00",
    " 1",
    "-1",
    "fp:0.5:0.5",
    "fp:2:0",
    "se:-24:-24:0.5:multiply",
    "ff0000,00ff00:45:0.5",
    "10:20:30:40:fff",
    "4:4:4",
    "alpha:true",
    "1:99",
    "45:ff000080",
    "000:fff",
    '{"width":10,"height":10}',
    '{"x":1e9,"width":1,"height":1}',
    '{"multiplier":"x"}',
    '{"imageId":"a"}',
    '{"text":"hi","size":1e9}',
    "{",
    "aHR0cDovLzEyNy4wLjAuMi94",
    "Infinity",
  ),
);
const src = fc.record({
  width: fc.integer({ min: 1, max: 9000 }),
  height: fc.integer({ min: 1, max: 9000 }),
  format: fc.constantFrom("jpeg", "png", "gif", "heic", "svg", "webp"),
});
const rawQuery = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc
    .array(fc.tuple(fc.string({ maxLength: 8 }), text))
    .map((kv) => kv.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&")),
);
const built = (names: string[]) =>
  fc.array(fc.tuple(fc.constantFrom(...names), text), { maxLength: 6 }).map((kv) => new URLSearchParams(kv).toString());
const RUNS = { numRuns: 1500 };

describe("URL parsers: any query is a 400 or a valid spec", () => {
  test("native (img-src w/h/fit/q/p:, img.pro size, AssetsRepo): query, preset and extension", () => {
    const query = fc.oneof(rawQuery, built(["w", "h", "fit", "q", "size", "format", "p:x", "token", "expires"]));
    const preset = fc.option(
      fc.dictionary(fc.constantFrom("w", "h", "fit", "q", "size", "format", "x"), fc.oneof(text, fc.integer())),
      { nil: undefined },
    );
    const ext = fc.constantFrom<OutputFormat | null>(null, ...FORMATS);
    const defaults = fc.record({
      fit: fc.constantFrom("cover", "contain", "fill", "scale-down", "bogus"),
      quality: fc.integer({ min: 1, max: 100 }),
      maxWidth: fc.option(fc.integer({ min: 1, max: 5000 }), { nil: null }),
      maxHeight: fc.option(fc.integer({ min: 1, max: 5000 }), { nil: null }),
    });
    fc.assert(
      fc.property(query, preset, ext, src, defaults, (qs, p, e, s, d) =>
        answers(() => {
          const q = splitQuery(new URLSearchParams(qs));
          const spec = nativeSpec(
            parseParams(q.params),
            p === undefined ? undefined : parseParams(p, "params"),
            e,
            s,
            d,
          );
          return spec && finalize(spec, s, LIMIT);
        }, s),
      ),
      RUNS,
    );
  });

  test("Imgwire: every parameter and alias, presets, Accept", () => {
    const names = [...IMGWIRE_PARAMETER_NAMES];
    const query = fc.oneof(rawQuery, built(names));
    const preset = fc.option(fc.constantFrom(...Object.values(SIZE_PRESETS)), { nil: undefined });
    const accept = fc.option(fc.constantFrom("image/avif,image/webp,*/*", "image/webp", "*/*", ""), { nil: undefined });
    fc.assert(
      fc.property(query, preset, accept, src, (qs, p, a, s) =>
        answers(
          () =>
            finalize(
              imgwireSpec(splitImgwireQuery(new URLSearchParams(qs)), p, s, { accept: a, defaultQuality: 80 }).spec,
              s,
              LIMIT,
            ),
          s,
        ),
      ),
      RUNS,
    );
  });
});
