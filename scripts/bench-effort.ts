// Encoder effort table: for each AVIF effort (heifsave 0–9) and WebP method (0–6), the time of
// the whole transform on one thread (12 MP JPEG → 800 px, decode + resize + encode, as a codec
// worker runs it) as wall-clock and as CPU time of this process (on a shared machine the CPU time
// is the steadier figure: it does not grow while other processes hold the cores), the output's bytes, and its quality against the resized source before
// encoding: PSNR (RGB) and SSIM (8×8 windows on luma).
//
//   bun scripts/bench-effort.ts [--reps 3] [--quality 80] [--max-seconds 20] [--only avif|webp]
//
// An effort whose first run takes longer than --max-seconds is run once and higher efforts of
// that format are skipped (they only get slower).

import { DEFAULT_EFFORT } from "../codecs/effort.ts";
import { type Codecs, restrictLoaders, transform } from "../codecs/pipeline.ts";
import type { TransformSpec } from "../codecs/types.ts";
import type { Prepared } from "../codecs/decoders/index.ts";
import { loadVips, loadWebpEncoder } from "../codecs/wasm.ts";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import sharp from "sharp";

const ROOT = resolve(import.meta.dir, "..");
const args = process.argv.slice(2);
const opt = (n: string, d: string) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1]! : d);
const REPS = Number(opt("reps", "3"));
const Q = Number(opt("quality", "80"));
const MAX_S = Number(opt("max-seconds", "20"));
const ONLY = opt("only", "avif,webp").split(",");

const source: Prepared = {
  bytes: new Uint8Array(
    await sharp(join(ROOT, "test/fixtures/2569067123_aca715a2ee_o.jpg")).resize(3840).jpeg({ quality: 90 }).toBuffer(),
  ),
  format: "jpeg",
};
const [vips, webp] = await Promise.all([loadVips(), loadWebpEncoder()]);
vips.concurrency(1);
vips.Cache.max(0);
restrictLoaders(vips);
const codecs: Codecs = { vips, webp };
const base: TransformSpec = {
  width: 800,
  fit: "inside",
  enlarge: false,
  gravity: "centre",
  format: "png",
  quality: Q,
  keepMetadata: false,
};

/** RGB pixels of an encoded image, decoded by wasm-vips. */
function pixels(bytes: Uint8Array): { data: Uint8Array; width: number; height: number } {
  const img = vips.Image.newFromBuffer(bytes);
  const rgb = img.bands > 3 ? img.extractBand(0, { n: 3 }) : img;
  const data = new Uint8Array(rgb.writeToMemory() as Uint8Array);
  const out = { data, width: rgb.width, height: rgb.height };
  if (rgb !== img) rgb.delete();
  img.delete();
  return out;
}
const reference = pixels(transform(codecs, source, base).data); // lossless: the resized source

function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.length));
}

function ssim(a: Uint8Array, b: Uint8Array, w: number, h: number): number {
  const luma = (p: Uint8Array, i: number) => 0.299 * p[i * 3]! + 0.587 * p[i * 3 + 1]! + 0.114 * p[i * 3 + 2]!;
  const C1 = (0.01 * 255) ** 2;
  const C2 = (0.03 * 255) ** 2;
  let sum = 0;
  let n = 0;
  for (let y = 0; y + 8 <= h; y += 4) {
    for (let x = 0; x + 8 <= w; x += 4) {
      let sa = 0,
        sb = 0,
        saa = 0,
        sbb = 0,
        sab = 0;
      for (let j = 0; j < 8; j++) {
        for (let i = 0; i < 8; i++) {
          const k = (y + j) * w + x + i;
          const va = luma(a, k);
          const vb = luma(b, k);
          sa += va;
          sb += vb;
          saa += va * va;
          sbb += vb * vb;
          sab += va * vb;
        }
      }
      const ma = sa / 64,
        mb = sb / 64;
      const va = saa / 64 - ma * ma,
        vb = sbb / 64 - mb * mb,
        cov = sab / 64 - ma * mb;
      sum += ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
      n++;
    }
  }
  return sum / n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(
  `encoder effort, 12 MP JPEG (${source.bytes.length >> 10} KiB) → 800 px at q${Q}, one thread, ${process.versions.bun ? `Bun ${Bun.version}` : "?"}; ${cpus().length} cores (shared); ${new Date().toISOString().slice(0, 16)}Z`,
);
console.log(`defaults now: AVIF effort ${DEFAULT_EFFORT.avif}, WebP method ${DEFAULT_EFFORT.webp}\n`);
console.log("| format | effort | CPU ms (median) | wall ms (median) | bytes | PSNR dB | SSIM |");
console.log("|---|---|---|---|---|---|---|");
transform(codecs, source, { ...base, format: "webp" }); // JIT warm-up, not measured

for (const [format, max] of [
  ["avif", 9],
  ["webp", 6],
] as const) {
  if (!ONLY.includes(format)) continue;
  for (let e = 0; e <= max; e++) {
    const effort = { ...DEFAULT_EFFORT, [format]: e };
    const times: number[] = [];
    const cpu: number[] = [];
    let out: Uint8Array | undefined;
    for (let r = 0; r < REPS; r++) {
      const t = performance.now();
      const c = process.cpuUsage();
      out = transform(codecs, source, { ...base, format }, {}, effort).data;
      const used = process.cpuUsage(c);
      cpu.push((used.user + used.system) / 1000);
      times.push(performance.now() - t);
      if (times[0]! > MAX_S * 1000) break;
    }
    const got = pixels(out!);
    const q = psnr(reference.data, got.data);
    const s = ssim(reference.data, got.data, got.width, got.height);
    console.log(
      `| ${format} | ${e} | ${median(cpu).toFixed(0)}${times.length < REPS ? ` (${times.length} run)` : ""} | ${median(times).toFixed(0)} | ${out!.length} | ${q.toFixed(2)} | ${s.toFixed(4)} |`,
    );
    if (times[0]! > MAX_S * 1000) {
      console.log(`| ${format} | ${e + 1}–${max} | skipped: effort ${e} took over ${MAX_S} s | | | | |`);
      break;
    }
  }
}
