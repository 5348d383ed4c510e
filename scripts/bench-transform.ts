// 12 MP JPEG → 800 px wide WebP, AVIF and JPEG: imgd's CodecPool (one worker) against sharp
// (one thread). Prints the median ms per image for each and the ratio.
//
//   bun scripts/bench-transform.ts [webp/jpeg iterations=7] [avif iterations=3]
//
// Runs under Bun's default JIT: lossy WebP goes through jsquash's non-SIMD libwebp, which
// Bun 1.3.14's optimising wasm tier compiles correctly (see codecs/wasm.ts). Also prints the
// pool's start time (wasm load + warm-up) and the first job of each format on a fresh worker.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { CodecPool } from "../codecs/pool.ts";
import type { OutputFormat, TransformSpec } from "../codecs/types.ts";

const N = Number(process.argv[2] ?? 7);
const N_AVIF = Number(process.argv[3] ?? 3);
const FIXTURE = join(import.meta.dir, "../test/fixtures/2569067123_aca715a2ee_o.jpg");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const first: string[] = [];

async function time(n: number, f: () => Promise<unknown>, label?: string): Promise<number> {
  const t0 = performance.now();
  await f(); // warm-up: JIT tiers, codec tables
  if (label) first.push(`${label} ${(performance.now() - t0).toFixed(0)} ms`);
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f();
    ms.push(performance.now() - t);
  }
  return median(ms);
}

const dir = mkdtempSync(join(tmpdir(), "imgd-bench-"));
try {
  // Deterministic 4000×3000 source: the photo fixture upscaled, saved at quality 90.
  const source = new Uint8Array(
    await sharp(FIXTURE).resize(4000, 3000, { fit: "cover" }).jpeg({ quality: 90 }).toBuffer(),
  );
  console.log(
    `source: 4000×3000 JPEG, ${(source.length / 1e6).toFixed(1)} MB; runtime ${typeof Bun !== "undefined" ? `Bun ${Bun.version}` : "?"}` +
      `, BUN_JSC_wasmOMGOptimizationLevel=${process.env.BUN_JSC_wasmOMGOptimizationLevel ?? "(unset)"}`,
  );

  sharp.concurrency(1);
  sharp.cache(false);
  const pool = new CodecPool({ size: 1, maxQueue: 4, jobTimeoutMs: 120_000, maxSourcePixels: 100_000_000 });
  const t0 = performance.now();
  await pool.start();
  console.log(`pool start (1 worker, incl. warm-up): ${(performance.now() - t0).toFixed(0)} ms`);

  const spec = (format: OutputFormat): TransformSpec => ({
    width: 800,
    fit: "inside",
    enlarge: false,
    gravity: "centre",
    format,
    quality: 80,
    keepMetadata: false,
  });
  const viaSharp = (format: OutputFormat) => {
    const s = sharp(source).resize(800);
    return (
      format === "webp"
        ? s.webp({ quality: 80 })
        : format === "avif"
          ? s.avif({ quality: 80 })
          : s.jpeg({ quality: 80 })
    ).toBuffer();
  };

  const rows: string[] = [];
  for (const format of ["webp", "jpeg", "avif"] as const) {
    const n = format === "avif" ? N_AVIF : N;
    const imgd = await time(n, () => pool.transform(source, spec(format)), format);
    const ref = await time(n, () => viaSharp(format));
    rows.push(
      `${format.padEnd(5)} imgd ${imgd.toFixed(0).padStart(5)} ms   sharp ${ref.toFixed(0).padStart(5)} ms   imgd/sharp ${(imgd / ref).toFixed(2)}×   (median of ${n})`,
    );
    console.log(rows.at(-1));
  }
  console.log(`first job of each format on the worker: ${first.join(", ")}`);
  await pool.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
