// Opening the source and what its header is checked against: shared by the `load` step and by
// `inspect` (codecs/inspect.ts), which open a source the same way.

import type { Prepared, RawImage } from "../decoders/index.ts";
import { CodecError, type InputFormat } from "../types.ts";
import type { Vips, VipsImage } from "../wasm.ts";
import type { Limits } from "./state.ts";

/** Loaders we accept; every other libvips loader is blocked (see `restrictLoaders`). */
export const LOADERS: Record<string, InputFormat> = {
  jpegload: "jpeg",
  pngload: "png",
  webpload: "webp",
  gifload: "gif",
  heifload: "heic", // refined to avif by the heif-compression field
  tiffload: "tiff",
  svgload: "svg",
  jxlload: "jxl",
  ppmload: "pnm",
  radload: "hdr",
};
const LOADER_CLASSES = ["Jpeg", "Png", "Webp", "Nsgif", "Heif", "Tiff", "Svg", "Jxl", "Ppm", "Rad"];

/** Blocks all libvips loaders except those for the formats imgd accepts (less attack surface). */
export function restrictLoaders(vips: Vips): void {
  vips.operationBlock("VipsForeignLoad", true);
  for (const c of LOADER_CLASSES) vips.operationBlock(`VipsForeignLoad${c}`, false);
}

export function orientationOf(image: VipsImage): number {
  if (!image.getTypeof("orientation")) return 1;
  const o = image.getInt("orientation");
  return o >= 1 && o <= 8 ? o : 1;
}

function loaderName(image: VipsImage): string {
  return image.getString("vips-loader").replace(/_(buffer|source|file)$/, "");
}

export function pagesOf(image: VipsImage): number {
  return image.getTypeof("n-pages") ? Math.max(1, image.getInt("n-pages")) : 1;
}

export function checkFrames(frames: number, limits: Limits): void {
  if (limits.maxAnimationFrames !== undefined && frames > limits.maxAnimationFrames) {
    throw new CodecError("too_large", `source has ${frames} frames, over the limit of ${limits.maxAnimationFrames}`);
  }
}

/** `frames`: how many frames will be decoded (all of an animation kept animated, else one). */
export function checkPixels(width: number, height: number, limits: Limits, frames = 1): void {
  if (limits.maxSourcePixels !== undefined && width * height * frames > limits.maxSourcePixels) {
    const size = frames > 1 ? `${width}×${height}×${frames} frames` : `${width}×${height}`;
    throw new CodecError("too_large", `source is ${size}, over the limit of ${limits.maxSourcePixels} pixels`);
  }
}

/** Opens the source lazily: only the header is read until pixels are asked for. */
function openHeader(vips: Vips, bytes: Uint8Array): VipsImage {
  return vips.Image.newFromBuffer(bytes, "", { access: "sequential", fail_on: "truncated" });
}

/** Pixels from a decoder of ours as a vips image (copied into wasm memory). */
function fromRaw(vips: Vips, raw: RawImage): VipsImage {
  const mem = vips.Image.newFromMemory(raw.data, raw.width, raw.height, raw.bands, vips.BandFormat.uchar);
  const out = mem.copy({ interpretation: raw.bands <= 2 ? "b-w" : "srgb" });
  mem.delete();
  if (raw.orientation && raw.orientation !== 1) out.setInt("orientation", raw.orientation);
  return out;
}

/** The source, opened: a header-only libvips load, or decoded pixels. */
export function open(vips: Vips, source: Prepared): { image: VipsImage; loader: string } {
  if (source.raw) return { image: fromRaw(vips, source.raw), loader: "decoded" };
  const image = openHeader(vips, source.bytes!);
  const loader = loaderName(image);
  if (image.coding !== "rad") return { image, loader };
  // Radiance pixels load still coded (RGBE, 4 bytes that are not RGBA): to float scRGB first.
  const float = image.rad2float();
  image.delete();
  return { image: float, loader };
}
