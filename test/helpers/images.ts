import sharp from "sharp";

// Test images are made and checked with sharp (native libvips) in the test process: real
// encoders and decoders, independent of the server's wasm worker pool. Not wasm-vips here:
// `bun test --parallel` runs every file in a fresh realm of a long-lived worker process, and
// each realm's wasm-vips instance (a shared memory with pthreads) is never freed, so after
// about twenty files a worker process runs out of wasm memory ("RangeError: Out of memory").

/** A gradient image (so encoders have real content) of the given size and format. */
export async function makeImage(
  width: number,
  height: number,
  format: "jpg" | "png" | "webp" | "avif" = "jpg",
  opts: { alpha?: boolean } = {},
): Promise<Uint8Array> {
  const channels = opts.alpha ? 4 : 3;
  const raw = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const r = (x * 255) / Math.max(1, width - 1);
      const g = (y * 255) / Math.max(1, height - 1);
      const i = (y * width + x) * channels;
      raw[i] = r;
      raw[i + 1] = g;
      raw[i + 2] = (r + g) * 0.5;
      if (opts.alpha) raw[i + 3] = 128;
    }
  }
  const img = sharp(raw, { raw: { width, height, channels } });
  const out =
    format === "jpg"
      ? img.jpeg()
      : format === "png"
        ? img.png()
        : format === "webp"
          ? img.webp()
          : img.avif({ quality: 50, effort: 0 });
  return new Uint8Array(await out.toBuffer());
}

export interface Decoded {
  format: string;
  width: number;
  height: number;
  bands: number;
  hasAlpha: boolean;
}

/** Decodes bytes and reports what they really are (format from the decoder, not a header). */
export async function decode(bytes: Uint8Array): Promise<Decoded> {
  const img = sharp(bytes);
  const meta = await img.metadata();
  // Decoding the pixels proves the file whole (metadata alone reads only the header).
  await img.raw().toBuffer();
  const format = meta.format === "heif" ? (meta.compression === "hevc" ? "heif" : "avif") : String(meta.format);
  return { format, width: meta.width!, height: meta.height!, bands: meta.channels!, hasAlpha: !!meta.hasAlpha };
}

/** The pixel at (x, y) as an array of band values. */
export async function pixel(bytes: Uint8Array, x: number, y: number): Promise<number[]> {
  const { data } = await sharp(bytes)
    .extract({ left: x, top: y, width: 1, height: 1 })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return Array.from(data);
}

/** An uncompressed PNG (so its size is what we ask) of `bytes` bytes or a little more. */
export async function bigPng(bytes: number): Promise<Uint8Array> {
  const side = Math.ceil(Math.sqrt(bytes / 3));
  const raw = Buffer.alloc(side * side * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7 + (i >> 12)) & 0xff;
  return new Uint8Array(
    await sharp(raw, { raw: { width: side, height: side, channels: 3 } })
      .png({ compressionLevel: 0 })
      .toBuffer(),
  );
}
