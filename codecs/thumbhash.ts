import { rgbaToThumbHash } from "thumbhash";

// A ThumbHash (about 25 bytes that a client renders into a blurred preview, with the image's
// aspect ratio and alpha) from a small decoded thumbnail. ThumbHash takes at most 100 px a side.

/** Base64 of the ThumbHash of 8-bit pixels with 1–4 bands (grey, grey+alpha, RGB, RGBA). */
export function thumbHashOf(px: Uint8Array, width: number, height: number, bands: number): string {
  if (width > 100 || height > 100) throw new Error(`ThumbHash needs at most 100×100 pixels, got ${width}×${height}`);
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, o = 0; o < rgba.length; i += bands, o += 4) {
    const grey = bands <= 2;
    rgba[o] = px[i]!;
    rgba[o + 1] = grey ? px[i]! : px[i + 1]!;
    rgba[o + 2] = grey ? px[i]! : px[i + 2]!;
    rgba[o + 3] = bands === 2 || bands === 4 ? px[i + bands - 1]! : 255;
  }
  return Buffer.from(rgbaToThumbHash(width, height, rgba)).toString("base64");
}
