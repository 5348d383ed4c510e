// Rewrites @jsquash/webp's SIMD WebP encoder so that Bun's JavaScriptCore compiles it right.
//
//   bun scripts/webp-simd-jsc.ts        writes codecs/webp_enc_simd_jsc.wasm
//
// What is wrong (found by a differential run; commands in README "WebP SIMD under Bun"): JSC's
// optimizing wasm tier (OMG/B3) miscompiles `i8x16.shuffle` in two functions of the module,
// code indices 279 and 280 — libwebp's forward DCT (FTransform and FTransform2, SSE2 code
// that Emscripten turned into wasm SIMD). Evidence, Bun 1.3.14, 800×600 test image at q80:
// - BUN_JSC_useOMGJIT=0 or BUN_JSC_wasmOMGOptimizationLevel=0: output correct;
// - BUN_JSC_wasmFunctionIndexRangeToCompile=A:B bisection: wrong exactly when 279 or 280 is
//   compiled;
// - in those two functions, replacing each `i8x16.shuffle m A B` with the equivalent
//   `v128.or(i8x16.swizzle(A, m'), i8x16.swizzle(B, m''))` (lanes taken from the other operand
//   become out-of-range indices, which swizzle turns into zero) gives V8's bytes under Bun;
//   rewriting i16x8.eq, dot, narrow, shifts or load64_zero does not.
// The rewrite is exact by the wasm spec, so V8 gives the same bytes for both modules; the guard
// test (test/speed/webp-simd.test.ts) checks Bun's output of this module against V8's byte for
// byte.

import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import binaryen from "binaryen";

const ROOT = resolve(import.meta.dir, "..");
const SOURCE = join(ROOT, "node_modules/@jsquash/webp/codec/enc/webp_enc_simd.wasm");
/** The module the function indices below were found in (@jsquash/webp 1.5.0). */
const SOURCE_SHA256 = "39c279269ec1163b987b6d69749458e3d5b03b9585f58b6ca5455b76b504a305";
const FUNCTIONS = [279, 280];
export const OUTPUT = join(ROOT, "codecs/webp_enc_simd_jsc.wasm");

/** Index of the parenthesis closing the expression that opens at `start`. */
function closing(text: string, start: number): number {
  let depth = 0;
  for (let k = start; k < text.length; k++) {
    if (text[k] === "(") depth++;
    else if (text[k] === ")" && --depth === 0) return k;
  }
  throw new Error("unbalanced text");
}

/** The operand expressions of the expression spanning [start, end]. */
function operands(text: string, start: number, end: number): string[] {
  const out: string[] = [];
  for (let i = text.indexOf(" ", start); i < end; i++) {
    if (text[i] !== "(") continue;
    const k = closing(text, i);
    out.push(text.slice(i, k + 1));
    i = k;
  }
  return out;
}

const lanes = (xs: number[]) => `(v128.const i8x16 ${xs.join(" ")})`;

/** Every `i8x16.shuffle` in one function's text, as two swizzles and an or. */
function rewriteShuffles(fn: string): { text: string; count: number } {
  let count = 0;
  for (let j = fn.indexOf("(i8x16.shuffle "); j >= 0; j = fn.indexOf("(i8x16.shuffle ", j)) {
    const k = closing(fn, j);
    const head = fn.slice(j, fn.indexOf("(", j + 1));
    const mask = head.trim().split(/\s+/).slice(1, 17).map(Number);
    const [a, b] = operands(fn, j, k);
    if (mask.length !== 16 || !a || !b) throw new Error(`cannot read shuffle: ${head}`);
    const fromA = mask.map((m) => (m < 16 ? m : 128));
    const fromB = mask.map((m) => (m >= 16 ? m - 16 : 128));
    const replacement = `(v128.or (i8x16.swizzle ${a} ${lanes(fromA)}) (i8x16.swizzle ${b} ${lanes(fromB)}))`;
    fn = fn.slice(0, j) + replacement + fn.slice(k + 1);
    count++;
  }
  return { text: fn, count };
}

export async function buildPatchedWebpSimd(): Promise<Uint8Array> {
  const input = new Uint8Array(await readFile(SOURCE));
  const sha = createHash("sha256").update(input).digest("hex");
  if (sha !== SOURCE_SHA256) {
    throw new Error(
      `${SOURCE} is not the module this rewrite was made for (sha256 ${sha}); find the functions again before using it`,
    );
  }
  const mod = binaryen.readBinary(input);
  // What Emscripten's SIMD build uses; readBinary does not infer it.
  const F = binaryen.Features;
  const features = F.MVP | F.SIMD128 | F.BulkMemory | F.SignExt | F.NontrappingFPToInt | F.MutableGlobals;
  let text = mod.emitText();
  // binaryen lists imported functions first; the indices above count defined functions only.
  let imported = 0;
  for (let i = 0; i < mod.getNumFunctions(); i++)
    if (binaryen.getFunctionInfo(mod.getFunctionByIndex(i)).module) imported++;
  const names = FUNCTIONS.map((i) => binaryen.getFunctionInfo(mod.getFunctionByIndex(imported + i)).name);
  mod.dispose();
  for (const name of names) {
    const start = text.indexOf(`\n (func $${name} `);
    if (start < 0) throw new Error(`function ${name} not found`);
    const end = closing(text, start + 2);
    const { text: fn, count } = rewriteShuffles(text.slice(start, end + 1));
    if (count === 0) throw new Error(`no shuffle in function ${name}`);
    text = text.slice(0, start) + fn + text.slice(end + 1);
  }
  const out = binaryen.parseText(text);
  out.setFeatures(features);
  if (!out.validate()) throw new Error("rewritten module does not validate");
  const bytes = out.emitBinary();
  out.dispose();
  return bytes;
}

if (import.meta.main) {
  const bytes = await buildPatchedWebpSimd();
  await writeFile(OUTPUT, bytes);
  console.log(`wrote ${OUTPUT}: ${bytes.length} bytes, sha256 ${createHash("sha256").update(bytes).digest("hex")}`);
}
