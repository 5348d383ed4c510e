// The one place that knows where wasm-vips, its wasm side modules and our worker script live.
//
// From the source tree everything resolves from node_modules: wasm-vips' own loader finds
// vips.wasm and the side modules next to vips-node.mjs. In a `bun build --compile` binary
// (measured) that only works when the wasm files are imported `with { type: "file" }` and
// handed over through `locateFile`, and when wasm-vips' vips-node.mjs is an extra entrypoint
// of the build passed as `mainScriptUrlOrBlob` (its pthreads re-import it). Our own worker
// script is an extra entrypoint too. `./embedded.ts` says which layout we are in: undefined
// from the source tree; in the binary (where scripts/build.ts swaps in embedded.compiled.ts)
// the embedded paths. Every function below defaults to it, so callers (the pool, the worker)
// only ever see `loadVips()`, `loadWebpEncoder()` and `workerScriptUrl()`.
//
// Lossy WebP is encoded by @jsquash/webp's non-SIMD build, not by wasm-vips: Bun 1.3.14's
// optimising wasm tier (OMG) miscompiles libwebp's SIMD encoder paths (wasm-vips' libwebp and
// jsquash's SIMD build alike), giving wrong, drifting output after the first few encodes; the
// non-SIMD build is correct and deterministic under the default JIT (measured). Its wasm file
// is located by `webpEncoderWasm()` below, with the same embedded-files switch as wasm-vips.

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type VipsFactory from "wasm-vips";
import { embedded as builtIn } from "./embedded.ts";

export type Vips = typeof VipsFactory;
export type VipsImage = VipsFactory.Image;

/**
 * Side modules loaded next to vips.wasm: HEIF (AVIF/HEIC in and out), JPEG XL (in and out) and
 * resvg (SVG rasterisation; without it svgload does not exist).
 */
export const VIPS_SIDE_MODULES = ["vips-heif.wasm", "vips-jxl.wasm", "vips-resvg.wasm"] as const;

/** Where a compiled binary keeps its embedded files; absent when running from node_modules. */
export interface EmbeddedVipsAssets {
  /**
   * File name as wasm-vips asks for it (e.g. "vips.wasm") → path or URL of the embedded file.
   * Also holds `WEBP_ENCODER_WASM`, jsquash's SIMD WebP encoder as rewritten for Bun, and
   * `HEIF_DECODER_WASM` ("libheif.wasm"), libheif-js' HEIC decoder.
   */
  files: Record<string, string>;
  /** The embedded copy of wasm-vips' vips-node.mjs, which its pthread workers load. */
  mainScript: string;
  /** The embedded copy of our codec worker (codecs/worker.ts), which the pool spawns. */
  workerScript: string;
}

export interface VipsInitOptions {
  dynamicLibraries: string[];
  locateFile?: (file: string, scriptDirectory: string) => string;
  mainScriptUrlOrBlob?: string;
  preRun?: Array<(module: { ENV: Record<string, string> }) => void>;
}

/** The Emscripten module options for wasm-vips: the single switch between layouts. */
export function vipsInitOptions(embedded: EmbeddedVipsAssets | undefined = builtIn): VipsInitOptions {
  const options: VipsInitOptions = {
    dynamicLibraries: [...VIPS_SIDE_MODULES],
    // libvips reports every decode problem as a GLib warning on stderr as well as in the
    // thrown error; corrupt uploads are routine input, so keep them out of the server's log.
    // (A printErr hook would not do: pthreads write to stderr themselves.)
    preRun: [(module) => void (module.ENV.VIPS_WARNING = "0")],
  };
  if (embedded) {
    const files = embedded.files;
    options.locateFile = (file, dir) => files[file] ?? dir + file;
    options.mainScriptUrlOrBlob = embedded.mainScript;
  }
  return options;
}

/** Instantiates one wasm-vips (one wasm memory, its own pthreads). Call once per worker. */
export async function loadVips(embedded: EmbeddedVipsAssets | undefined = builtIn): Promise<Vips> {
  // Imported lazily so that importing this module (the pool does, for the worker URL) never
  // evaluates wasm-vips on the main thread.
  const { default: Vips } = await import("wasm-vips");
  // The typings describe only the options they know of; ours are a subset of Emscripten's.
  return await Vips(vipsInitOptions(embedded) as Parameters<typeof Vips>[0]);
}

// ------------------------------------------------------------------------- WebP encoder

/**
 * @jsquash/webp's SIMD encoder with the shuffles Bun's optimizing wasm tier miscompiles
 * rewritten (scripts/webp-simd-jsc.ts; test/speed/webp-simd.test.ts checks it against V8 byte
 * for byte). It sits in codecs/, beside this module.
 */
export const WEBP_ENCODER_WASM = "webp_enc_simd_jsc.wasm";

/** libwebp's WebPConfig as jsquash's embind glue takes it (all fields required). */
export interface WebpEncodeOptions {
  quality: number;
  target_size: number;
  target_PSNR: number;
  method: number;
  sns_strength: number;
  filter_strength: number;
  filter_sharpness: number;
  filter_type: number;
  partitions: number;
  segments: number;
  pass: number;
  show_compressed: number;
  preprocessing: number;
  autofilter: number;
  partition_limit: number;
  alpha_compression: number;
  alpha_filtering: number;
  alpha_quality: number;
  lossless: number;
  exact: number;
  image_hint: number;
  emulate_jpeg_size: number;
  thread_level: number;
  low_memory: number;
  near_lossless: number;
  use_delta_palette: number;
  use_sharp_yuv: number;
}

/** One instance of the encoder (its own wasm memory). Synchronous, like the vips calls. */
export interface WebpEncoder {
  /** RGBA, 4 bytes a pixel, row after row. Returns a complete WebP file (a fresh buffer). */
  encode(rgba: Uint8Array, width: number, height: number, options: WebpEncodeOptions): Uint8Array;
}

/** Path (or file: URL) of the non-SIMD encoder's wasm file: embedded copy, else node_modules. */
export function webpEncoderWasm(embedded: EmbeddedVipsAssets | undefined = builtIn): string {
  const file = embedded?.files[WEBP_ENCODER_WASM];
  if (file) return file;
  // import.meta.resolve is synchronous and gives a file: URL on Bun, Deno and Node alike.
  return fileURLToPath(new URL(`./${WEBP_ENCODER_WASM}`, import.meta.url));
}

interface WebpGlueModule {
  encode(data: BufferSource, width: number, height: number, options: WebpEncodeOptions): Uint8Array | null;
}
type WebpGlueFactory = (options: Record<string, unknown>) => Promise<WebpGlueModule>;

/** Instantiates the WebP encoder (jsquash's SIMD build, rewritten for Bun). Call once per worker. */
export async function loadWebpEncoder(embedded: EmbeddedVipsAssets | undefined = builtIn): Promise<WebpEncoder> {
  const bytes = await readFile(webpEncoderWasm(embedded));
  const compiled = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  // The glue of the SIMD build, imported directly (jsquash's encode.js would pick one by
  // feature detection); its own wasm lookup (fetch next to the glue) is bypassed.
  const { default: factory } = (await import("@jsquash/webp/codec/enc/webp_enc_simd.js")) as unknown as {
    default: WebpGlueFactory;
  };
  const glue = await factory({
    noInitialRun: true,
    instantiateWasm(imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance) => void) {
      const instance = new WebAssembly.Instance(compiled, imports);
      done(instance);
      return instance.exports;
    },
  });
  return {
    encode(rgba, width, height, options) {
      if (rgba.length !== width * height * 4)
        throw new RangeError(`webp encode: ${rgba.length} bytes for ${width}×${height} RGBA`);
      const out = glue.encode(rgba as Uint8Array<ArrayBuffer>, width, height, options);
      if (!out) throw new Error("webp encode failed");
      // The glue returns a copy; make sure it never is a view of wasm memory (it gets transferred).
      return out.byteOffset === 0 && out.buffer.byteLength === out.length && !(out.buffer instanceof SharedArrayBuffer)
        ? out
        : out.slice();
    },
  };
}

// ------------------------------------------------------------------------- HEIC decoder

/** libheif-js' wasm file (libheif + libde265), for HEVC-coded HEIF, which wasm-vips lacks. */
export const HEIF_DECODER_WASM = "libheif.wasm";

/** Path of libheif's wasm file: embedded copy, else node_modules. */
export function heifDecoderWasm(embedded: EmbeddedVipsAssets | undefined = builtIn): string {
  const file = embedded?.files[HEIF_DECODER_WASM];
  if (file) return file;
  return fileURLToPath(import.meta.resolve(`libheif-js/libheif-wasm/${HEIF_DECODER_WASM}`));
}

// ----------------------------------------------------------------------------------------

/**
 * The worker script for `new Worker(url, { type: "module" })`. In the binary, the embedded
 * entrypoint, as the plain path Bun's embedded file system knows it by: there `import.meta.url`
 * is that of the bundle's entry (src/main.js), not of this module, so a URL relative to it
 * would miss (measured: ModuleNotFound for /$bunfs/root/src/worker.ts).
 */
export function workerScriptUrl(embedded: EmbeddedVipsAssets | undefined = builtIn): URL | string {
  if (embedded) return embedded.workerScript;
  return new URL("./worker.ts", import.meta.url);
}
