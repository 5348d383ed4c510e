// TGA through @lunapaint/tga-codec (truecolour, greyscale and colour-mapped; RLE too). The
// size is checked from the header before the package allocates anything.

import { decodeTga as lunaDecode } from "@lunapaint/tga-codec";
import { bad, checkSize, type RawImage } from "./raw.ts";

export async function decodeTga(b: Uint8Array, maxPixels?: number): Promise<RawImage> {
  if (b.length < 18) throw bad("TGA", "truncated header");
  const width = b[12]! | (b[13]! << 8);
  const height = b[14]! | (b[15]! << 8);
  checkSize("TGA", width, height, maxPixels);
  let decoded;
  try {
    decoded = await lunaDecode(b, { detectAmbiguousAlphaChannel: true });
  } catch (e) {
    throw bad("TGA", String((e as Error)?.message ?? e));
  }
  const { image } = decoded;
  if (image.width !== width || image.height !== height || image.data.length !== width * height * 4)
    throw bad("TGA", "decoded size does not match the header");
  return {
    width,
    height,
    bands: 4,
    data: new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength),
  };
}
