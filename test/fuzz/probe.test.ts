import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { checkComplete, probe } from "../../codecs/probe/index.ts";
import type { InputFormat } from "../../codecs/types.ts";
import { FIXTURES } from "../helpers/server.ts";
import { mutate, mutation } from "./mutate.ts";

// The header probe (codecs/probe/) on mutated fixture bytes: it reads untrusted headers
// (offsets, lengths, box sizes), so whatever the bytes, it must answer quickly with a refusal
// (null, which the upload turns into a 400) or a probe the rest of imgd can use. An exception
// here would be a 500; a loop would hang the upload.

const FORMATS: InputFormat[] = ["jpeg", "png", "webp", "gif", "avif", "heic", "tiff", "bmp", "ico", "svg", "jxl"];
// Headers live at the start: 64 KiB of each fixture is what gets mutated.
const SOURCES = readdirSync(FIXTURES)
  .filter((f) => /\.(jpe?g|png|webp|gif|avif|tiff?|svg|bmp|ico|heic|jxl|qoi|tga)$/i.test(f))
  .map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(FIXTURES, f))).subarray(0, 64 * 1024) }));

function checked(bytes: Uint8Array): string | null {
  const started = performance.now();
  const r = probe(bytes);
  const ms = performance.now() - started;
  // A hang is what this catches; a generous bound keeps a loaded CI machine from failing it.
  if (ms > 2000) return `took ${ms.toFixed(0)} ms`;
  if (r === null) return null;
  if (!FORMATS.includes(r.format)) return `format ${r.format}`;
  if (typeof r.mime !== "string" || !r.mime.startsWith("image/")) return `mime ${r.mime}`;
  for (const n of [r.width, r.height]) if (!Number.isInteger(n) || n < 1) return `size ${r.width}×${r.height}`;
  // The completeness check runs on what the probe accepted: it too must just answer.
  if (typeof checkComplete(bytes.subarray(0, 4096), bytes.subarray(-4096), r.format) !== "boolean")
    return "checkComplete";
  return null;
}

describe("probe fuzz", () => {
  test(`fixtures (${SOURCES.length}) probe as they are`, () => {
    expect(SOURCES.length).toBeGreaterThan(10);
    for (const s of SOURCES) expect([s.name, checked(s.bytes)]).toEqual([s.name, null]);
  });

  test("mutated fixtures: null or a usable probe, fast, never an exception", () => {
    fc.assert(
      fc.property(fc.constantFrom(...SOURCES), fc.array(mutation, { minLength: 1, maxLength: 8 }), (s, edits) => {
        const why = checked(mutate(s.bytes, edits));
        if (why) throw new Error(`${s.name}: ${why}`);
      }),
      { numRuns: 1500 },
    );
  });

  test("random bytes after each format's signature", () => {
    const signatures = [
      [0xff, 0xd8, 0xff],
      [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
      [...new TextEncoder().encode("RIFF"), 0, 0, 0, 0, ...new TextEncoder().encode("WEBP")],
      [...new TextEncoder().encode("GIF89a")],
      [0, 0, 0, 0x18, ...new TextEncoder().encode("ftypavif")],
      [0, 0, 0, 0x18, ...new TextEncoder().encode("ftypheic")],
      [...new TextEncoder().encode("II*\0")],
      [...new TextEncoder().encode("MM\0*")],
      [...new TextEncoder().encode("BM")],
      [0, 0, 1, 0],
      [...new TextEncoder().encode("<svg ")],
      [0xff, 0x0a],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...signatures), fc.uint8Array({ maxLength: 600 }), (sig, rest) => {
        const why = checked(new Uint8Array([...sig, ...rest]));
        if (why) throw new Error(why);
      }),
      { numRuns: 3000 },
    );
  });
});
