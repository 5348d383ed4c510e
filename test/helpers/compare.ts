import sharp from "sharp";

// Two answers compared as pictures: decoded to raw RGB at one size (the first's), then the mean
// absolute difference per channel (0: the same pixels; encoders' noise stays within a few).

export async function pixelDistance(a: Uint8Array, b: Uint8Array): Promise<number> {
  const meta = await sharp(a).metadata();
  const raw = (bytes: Uint8Array) =>
    sharp(bytes).removeAlpha().resize(meta.width!, meta.height!, { fit: "fill" }).raw().toBuffer();
  const [x, y] = await Promise.all([raw(a), raw(b)]);
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.abs(x[i]! - y[i]!);
  return sum / x.length;
}
