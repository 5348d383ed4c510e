// PAM (netpbm P7). libvips' ppmload reads P1–P6 and PFM but not P7, so it is decoded here:
// a text header of WIDTH/HEIGHT/DEPTH/MAXVAL/TUPLTYPE lines up to ENDHDR, then raw samples.

import { bad, checkSize, type RawImage } from "./raw.ts";

export function decodePam(b: Uint8Array, maxPixels?: number): RawImage {
  const head = new TextDecoder("latin1").decode(b.subarray(0, Math.min(b.length, 4096)));
  const end = head.indexOf("ENDHDR\n");
  if (!head.startsWith("P7\n") || end < 0) throw bad("PAM", "no complete P7 header");
  const fields = new Map<string, string>();
  for (const line of head.slice(3, end).split("\n")) {
    const m = /^\s*([A-Z]+)\s+(.*?)\s*$/.exec(line);
    if (m && !line.trimStart().startsWith("#")) fields.set(m[1]!, m[2]!);
  }
  const num = (k: string) => (/^\d{1,9}$/.test(fields.get(k) ?? "") ? Number(fields.get(k)) : NaN);
  const width = num("WIDTH");
  const height = num("HEIGHT");
  const depth = num("DEPTH");
  const maxval = num("MAXVAL");
  checkSize("PAM", width, height, maxPixels);
  if (!(depth >= 1 && depth <= 4)) throw bad("PAM", `depth ${fields.get("DEPTH")} (1 to 4 supported)`);
  if (!(maxval >= 1 && maxval <= 65535)) throw bad("PAM", `maxval ${fields.get("MAXVAL")}`);
  const bytes = maxval > 255 ? 2 : 1;
  const start = end + "ENDHDR\n".length;
  const n = width * height * depth;
  if (start + n * bytes > b.length) throw bad("PAM", "truncated pixel data");
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const s = bytes === 2 ? (b[start + i * 2]! << 8) | b[start + i * 2 + 1]! : b[start + i]!;
    out[i] = s >= maxval ? 255 : Math.round((s * 255) / maxval);
  }
  return { width, height, bands: depth as RawImage["bands"], data: out };
}
