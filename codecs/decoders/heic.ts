// HEIC/HEIF with HEVC, through libheif-js (libheif + libde265 in WebAssembly): wasm-vips' HEIF
// module carries only the AV1 codec (HEVC was declined upstream), so AVIF stays with libvips
// and HEVC comes here. libheif applies the file's irot/imir transforms itself; a file without
// them may still ask for a rotation in its EXIF (camera files do), which the pipeline applies.

import { readFile } from "node:fs/promises";
import { bad, type RawImage } from "./raw.ts";
import { heifExifOrientation } from "./heif-exif.ts";

interface HeifError {
  code: { value: number };
  message: string;
}
interface HeifChannel {
  width: number;
  height: number;
  stride: number;
  data: Uint8Array;
}
interface HeifLib {
  heif_context_alloc(): unknown;
  heif_context_free(ctx: unknown): void;
  heif_context_read_from_memory(ctx: unknown, bytes: Uint8Array): HeifError;
  heif_js_context_get_primary_image_handle(ctx: unknown): (HeifError & { code?: unknown }) | object;
  heif_image_handle_get_width(h: unknown): number;
  heif_image_handle_get_height(h: unknown): number;
  heif_image_handle_has_alpha_channel(h: unknown): number;
  heif_image_handle_release(h: unknown): void;
  heif_js_decode_image2(
    h: unknown,
    colorspace: unknown,
    chroma: unknown,
  ): Promise<{ code?: unknown; message?: string; image: unknown; channels: HeifChannel[] }>;
  heif_image_release(img: unknown): void;
  heif_colorspace: { heif_colorspace_RGB: unknown };
  heif_chroma: { heif_chroma_interleaved_RGB: unknown; heif_chroma_interleaved_RGBA: unknown };
}

/** One libheif instance (its own wasm memory): a worker loads it on its first HEIC. */
export type HeifDecoder = (bytes: Uint8Array, maxPixels?: number) => Promise<RawImage>;

type Factory = (options: { wasmBinary: Uint8Array }) => Promise<HeifLib>;

export async function loadHeifDecoder(wasmPath: string): Promise<HeifDecoder> {
  const wasmBinary = new Uint8Array(await readFile(wasmPath));
  // The glue of the wasm build, given its binary: it then never looks for files of its own.
  const mod = (await import("libheif-js/libheif-wasm/libheif.js")) as unknown as { default: Factory };
  const lib = await mod.default({ wasmBinary });
  return (bytes, maxPixels) => decodeWith(lib, bytes, maxPixels);
}

async function decodeWith(lib: HeifLib, bytes: Uint8Array, maxPixels?: number): Promise<RawImage> {
  const ctx = lib.heif_context_alloc();
  if (!ctx) throw new Error("libheif: cannot allocate a context");
  let handle: unknown = null;
  let image: unknown = null;
  try {
    const read = lib.heif_context_read_from_memory(ctx, bytes);
    if (read.code.value !== 0) throw bad("HEIC", read.message);
    const h = lib.heif_js_context_get_primary_image_handle(ctx) as { code?: { value: number }; message?: string };
    if (!h || h.code) throw bad("HEIC", h?.message ?? "no primary image");
    handle = h;
    const width = lib.heif_image_handle_get_width(handle);
    const height = lib.heif_image_handle_get_height(handle);
    if (maxPixels !== undefined && width * height > maxPixels)
      throw bad("HEIC", `${width}×${height} is over the pixel limit`);
    const alpha = lib.heif_image_handle_has_alpha_channel(handle) !== 0;
    const chroma = alpha ? lib.heif_chroma.heif_chroma_interleaved_RGBA : lib.heif_chroma.heif_chroma_interleaved_RGB;
    const decoded = await lib.heif_js_decode_image2(handle, lib.heif_colorspace.heif_colorspace_RGB, chroma);
    if (!decoded || decoded.code || !decoded.channels?.length)
      throw bad("HEIC", decoded?.message ?? "cannot decode the image");
    image = decoded.image;
    const c = decoded.channels[0]!;
    const bands = alpha ? 4 : 3;
    const row = c.width * bands;
    let data = c.data;
    if (c.stride !== row) {
      data = new Uint8Array(row * c.height);
      for (let y = 0; y < c.height; y++) data.set(c.data.subarray(y * c.stride, y * c.stride + row), y * row);
    }
    return { width: c.width, height: c.height, bands, data, orientation: heifExifOrientation(bytes) };
  } finally {
    if (image) lib.heif_image_release(image);
    if (handle) lib.heif_image_handle_release(handle);
    lib.heif_context_free(ctx);
  }
}
