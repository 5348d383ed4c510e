import { CodecPool } from "/work/main/codecs/pool.ts";
import { fixture, spec } from "/work/main/test/codecs/helpers.ts";
import { createHash } from "node:crypto";
const pool = new CodecPool({ size: 1, maxQueue: 10, jobTimeoutMs: 60000, maxSourcePixels: 100e6 });
await pool.start();
const h = (b: Uint8Array) => createHash("sha1").update(b).digest("hex").slice(0, 8);
for (const format of ["jpeg", "png", "webp", "avif"] as const) {
  const src = format === "avif" ? fixture("with-alpha.png") : fixture("flowers.jpeg");
  const out = [];
  for (let i = 0; i < (format === "avif" ? 4 : 8); i++) out.push(h((await pool.transform(src, spec({ width: format === "avif" ? 200 : 800, format }))).data));
  console.log(format, [...new Set(out)].length === 1 ? "stable" : "UNSTABLE", out.join(" "));
}
await pool.close();
