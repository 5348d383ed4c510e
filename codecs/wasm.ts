// The one place that knows where wasm-vips, its wasm side modules and our worker script live.
//
// Today everything resolves from node_modules: wasm-vips' own loader finds vips.wasm and the
// side modules next to vips-node.mjs. In a `bun build --compile` binary (measured) that only
// works when the wasm files are imported `with { type: "file" }` and handed over through
// `locateFile`, and when wasm-vips' vips-node.mjs is an extra entrypoint of the build passed
// as `mainScriptUrlOrBlob` (its pthreads re-import it). That switch belongs in
// `vipsInitOptions()` below and nowhere else: callers only ever see `loadVips()` and
// `workerScriptUrl()`.

import type VipsFactory from "wasm-vips";

export type Vips = typeof VipsFactory;
export type VipsImage = VipsFactory.Image;

/**
 * Side modules loaded next to vips.wasm: HEIF (AVIF/HEIC in and out), JPEG XL (in and out) and
 * resvg (SVG rasterisation; without it svgload does not exist).
 */
export const VIPS_SIDE_MODULES = ["vips-heif.wasm", "vips-jxl.wasm", "vips-resvg.wasm"] as const;

/** Where a compiled binary keeps its embedded files; absent when running from node_modules. */
export interface EmbeddedVipsAssets {
  /** File name as wasm-vips asks for it (e.g. "vips.wasm") → path or URL of the embedded file. */
  files: Record<string, string>;
  /** The embedded copy of wasm-vips' vips-node.mjs, which its pthread workers load. */
  mainScript: string;
}

export interface VipsInitOptions {
  dynamicLibraries: string[];
  locateFile?: (file: string, scriptDirectory: string) => string;
  mainScriptUrlOrBlob?: string;
  preRun?: Array<(module: { ENV: Record<string, string> }) => void>;
}

/** The Emscripten module options for wasm-vips: the single switch between layouts. */
export function vipsInitOptions(embedded?: EmbeddedVipsAssets): VipsInitOptions {
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
export async function loadVips(embedded?: EmbeddedVipsAssets): Promise<Vips> {
  // Imported lazily so that importing this module (the pool does, for the worker URL) never
  // evaluates wasm-vips on the main thread.
  const { default: Vips } = await import("wasm-vips");
  // The typings describe only the options they know of; ours are a subset of Emscripten's.
  return await Vips(vipsInitOptions(embedded) as Parameters<typeof Vips>[0]);
}

/** The worker script for `new Worker(url, { type: "module" })`. */
export function workerScriptUrl(): URL {
  return new URL("./worker.ts", import.meta.url);
}
