import Vips from "wasm-vips";

// Test images are made and checked with wasm-vips in the test process: real encoders and
// decoders, independent of the server's worker pool.

let vipsPromise: Promise<any> | undefined;
export function vips(): Promise<any> {
  vipsPromise ??= Vips({ dynamicLibraries: ["vips-heif.wasm"] } as any).then((v: any) => {
    v.concurrency(1);
    return v;
  });
  return vipsPromise;
}

/** A gradient image (so encoders have real content) of the given size and format. */
export async function makeImage(width: number, height: number, format: "jpg" | "png" | "webp" | "avif" = "jpg", opts: { alpha?: boolean } = {}): Promise<Uint8Array> {
  const v = await vips();
  let img = v.Image.xyz(width, height);
  const r = img.extractBand(0).multiply(255 / Math.max(1, width - 1));
  const g = img.extractBand(1).multiply(255 / Math.max(1, height - 1));
  const b = r.add(g).multiply(0.5);
  let out = r.bandjoin([g, b]);
  if (opts.alpha) out = out.bandjoin(v.Image.black(width, height).add(128));
  out = out.cast("uchar");
  const bytes = out.writeToBuffer(`.${format}`, format === "avif" ? { Q: 50, effort: 0 } : {});
  for (const i of [img, r, g, b, out]) i.delete();
  return new Uint8Array(bytes);
}

export interface Decoded {
  format: string;
  width: number;
  height: number;
  bands: number;
  hasAlpha: boolean;
}

/** Decodes bytes and reports what they really are (format from the loader, not a header). */
export async function decode(bytes: Uint8Array): Promise<Decoded> {
  const v = await vips();
  const img = v.Image.newFromBuffer(bytes);
  const loader = String(img.getString("vips-loader"));
  const format = loader.replace(/load.*$/, "").replace("heif", "avif").replace("jpeg", "jpeg");
  const out = { format, width: img.width, height: img.height, bands: img.bands, hasAlpha: img.hasAlpha() };
  img.delete();
  return out;
}

/** The pixel at (x, y) as an array of band values. */
export async function pixel(bytes: Uint8Array, x: number, y: number): Promise<number[]> {
  const v = await vips();
  const img = v.Image.newFromBuffer(bytes);
  const p = img.getpoint(x, y);
  img.delete();
  return Array.from(p as ArrayLike<number>);
}
