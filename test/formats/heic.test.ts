// libheif-js (libheif + libde265 in wasm) inside a codec worker: the pixels are right and stay
// the same over repeated decodes. Bun's optimising wasm tier once miscompiled libwebp's SIMD
// code into output that drifted after the first few calls (see test/codecs/pool.test.ts); this
// guards the HEVC decoder against the same kind of fault. sharp cannot decode HEVC, so the
// reference is the pattern the sample was made from (see test/fixtures/README.md).

import { afterAll, beforeAll, expect, test } from "bun:test";
import sharp from "sharp";
import { CodecPool } from "../../codecs/pool.ts";
import { fixture, spec } from "../codecs/helpers.ts";

let pool: CodecPool;
beforeAll(async () => {
  pool = new CodecPool({ size: 1, maxQueue: 4, jobTimeoutMs: 60_000, maxSourcePixels: 50_000_000 });
  await pool.start();
});
afterAll(() => pool?.close());

test("HEIC: 12 decodes in one worker are identical and match the source pattern, upright", async () => {
  const heic = fixture("iphone-like-10bit-orientation-6.heic");
  const outs: Uint8Array[] = [];
  for (let i = 0; i < 12; i++) outs.push((await pool.transform(heic, spec({ fit: "inside", format: "png" }))).data);
  for (const o of outs) expect(Buffer.from(o).equals(Buffer.from(outs[0]!))).toBe(true);
  const { data, info } = await sharp(outs[0]!).raw().toBuffer({ resolveWithObject: true });
  expect([info.width, info.height]).toEqual([160, 120]);
  // Stored pattern (120×160): rows < 20 red (230,20,20); elsewhere R = x·255/120, G = y·255/160, B = 140.
  // Orientation 6 turns it clockwise: upright (u, v) shows stored (x, y) = (v, 159 − u).
  let err = 0;
  let n = 0;
  for (let v = 4; v < 120; v += 9) {
    for (let u = 4; u < 160; u += 9) {
      const x = v;
      const y = 159 - u;
      if (Math.abs(y - 20) < 3) continue; // the band's edge is blurred by chroma subsampling
      const want = y < 20 ? [230, 20, 20] : [Math.round((x * 255) / 120), Math.round((y * 255) / 160), 140];
      const at = (v * info.width + u) * info.channels;
      for (let c = 0; c < 3; c++) err += Math.abs(data[at + c]! - want[c]!);
      n += 3;
    }
  }
  expect(err / n).toBeLessThan(6);
}, 60_000);
