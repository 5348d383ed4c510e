// Measures the quality=auto rule (codecs/steps/quality.ts): for photos and graphics from
// test/fixtures at 800 px wide, the quality the SSIM search picks for a few targets, the bytes,
// and the SSIM measured again here (JS, on sharp's decode) against a lossless reference, next
// to a fixed quality of 80 and 90.
//
//   node_modules/.bin/bun scripts/auto-quality.ts [jpeg|webp|avif]

import { readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { CodecPool } from "../codecs/pool.ts";
import type { OutputFormat, TransformSpec } from "../codecs/types.ts";

const FORMAT = (process.argv[2] ?? "jpeg") as OutputFormat;
const FIXTURES = [
  "flowers.jpeg",
  "concert.jpg",
  "2569067123_aca715a2ee_o.jpg",
  "Landscape_1.jpg",
  "gradients-rgb8.png",
];
const TARGETS = [0.95, 0.97, 0.98, 0.99];
const WIDTH = Number(process.env.WIDTH ?? 800);

/** Mean SSIM on luminance, 8×8 windows with stride 4 (an independent check of the worker's). */
async function ssim(a: Uint8Array, b: Uint8Array): Promise<number> {
  const grey = async (x: Uint8Array) => {
    const { data, info } = await sharp(x)
      .flatten({ background: "#fff" })
      .greyscale()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, w: info.width, h: info.height };
  };
  const [A, B] = [await grey(a), await grey(b)];
  const C1 = (0.01 * 255) ** 2;
  const C2 = (0.03 * 255) ** 2;
  let sum = 0;
  let n = 0;
  for (let y = 0; y + 8 <= A.h; y += 4)
    for (let x = 0; x + 8 <= A.w; x += 4) {
      let ma = 0,
        mb = 0,
        va = 0,
        vb = 0,
        cov = 0;
      for (let j = 0; j < 8; j++)
        for (let i = 0; i < 8; i++) {
          const k = (y + j) * A.w + x + i;
          ma += A.data[k]!;
          mb += B.data[k]!;
        }
      ma /= 64;
      mb /= 64;
      for (let j = 0; j < 8; j++)
        for (let i = 0; i < 8; i++) {
          const k = (y + j) * A.w + x + i;
          const da = A.data[k]! - ma;
          const db = B.data[k]! - mb;
          va += da * da;
          vb += db * db;
          cov += da * db;
        }
      va /= 63;
      vb /= 63;
      cov /= 63;
      sum += ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
      n++;
    }
  return sum / n;
}

const pool = new CodecPool({ size: 1, maxQueue: 4, jobTimeoutMs: 300_000, maxSourcePixels: 100_000_000 });
await pool.start();
try {
  const base: TransformSpec = {
    width: WIDTH,
    fit: "inside",
    enlarge: false,
    gravity: "centre",
    format: FORMAT,
    quality: 90,
    keepMetadata: false,
  };
  console.log(`format ${FORMAT}, ${WIDTH} px wide; SSIM re-measured here against a lossless PNG of the same resize`);
  console.log("image | q=80 KB (SSIM) | q=90 KB (SSIM) | " + TARGETS.map((t) => `auto ${t}: q, KB (SSIM)`).join(" | "));
  for (const name of FIXTURES) {
    const src = new Uint8Array(readFileSync(join(import.meta.dir, "../test/fixtures", name)));
    const ref = (await pool.transform(src.slice(), { ...base, format: "png", quality: 100 })).data;
    const cells: string[] = [];
    for (const q of [80, 90]) {
      const out = await pool.transform(src.slice(), { ...base, quality: q });
      cells.push(`${(out.data.length / 1024).toFixed(0)} (${(await ssim(ref, out.data)).toFixed(3)})`);
    }
    for (const t of TARGETS) {
      const out = await pool.transform(src.slice(), { ...base, autoQuality: { ssim: t } });
      cells.push(`${out.quality}, ${(out.data.length / 1024).toFixed(0)} (${(await ssim(ref, out.data)).toFixed(3)})`);
    }
    console.log(`${name} | ${cells.join(" | ")}`);
  }
} finally {
  await pool.close();
}
