// The embedded assets of the compiled binary. Only `bun build --compile` (scripts/build.ts)
// uses this module, through the module it generates in place of ./embedded.ts; it is never
// imported from the source tree.
//
// - The wasm files are imported `with { type: "file" }`: the bundler copies each into the
//   binary once and the import evaluates to its internal path (`/$bunfs/root/<name>-<hash>.wasm`
//   on Unix, `B:\~BUN\root\…` on Windows), which fs.readFile and wasm-vips' loader can read.
// - Worker scripts cannot be embedded that way (their imports must be bundled): they are extra
//   entrypoints of the build, stored at `<bunfs root>/<path relative to the build's root>` with
//   the extension `.js` (`.mjs` too). The build's root is the common folder of the entrypoints'
//   real paths (a symlinked node_modules moves it up), so scripts/build.ts computes those
//   relative paths and passes them to `embeddedAssets` below.

import { dirname, posix } from "node:path";
import vipsWasm from "wasm-vips/vips.wasm" with { type: "file" };
import vipsHeif from "wasm-vips/vips-heif.wasm" with { type: "file" };
import vipsJxl from "wasm-vips/vips-jxl.wasm" with { type: "file" };
import vipsResvg from "wasm-vips/vips-resvg.wasm" with { type: "file" };
import webpEnc from "./webp_enc_simd_jsc.wasm" with { type: "file" };
import libheif from "libheif-js/libheif-wasm/libheif.wasm" with { type: "file" };
// Types only: a value import from wasm.ts would be a cycle (wasm.ts imports this module).
import type { EmbeddedVipsAssets } from "./wasm.ts";

/** The extra entrypoints of the build, as paths relative to its root ("/"-separated, `.js`). */
export interface EmbeddedEntries {
  /** Our codec worker (codecs/worker.ts), spawned by the pool. */
  worker: string;
  /** wasm-vips' own script, which its pthreads load (`mainScriptUrlOrBlob`). */
  vipsPthread: string;
}

export function embeddedAssets(entries: EmbeddedEntries): EmbeddedVipsAssets {
  // Assets sit flat at the root of the embedded file system (the build's asset naming is
  // "[name]-[hash].[ext]"); entrypoints are below it at their root-relative paths.
  const root = dirname(vipsWasm);
  // Keyed by the names wasm-vips asks `locateFile` for (vips.wasm and VIPS_SIDE_MODULES) and by
  // WEBP_ENCODER_WASM and HEIF_DECODER_WASM. Every worker loads all but libheif at start, so a
  // missing one makes the binary fail to start; libheif loads on a worker's first HEIC
  // (test/binary.test.ts uploads one).
  const files: Record<string, string> = {
    "vips.wasm": vipsWasm,
    "vips-heif.wasm": vipsHeif,
    "vips-jxl.wasm": vipsJxl,
    "vips-resvg.wasm": vipsResvg,
    "webp_enc_simd_jsc.wasm": webpEnc,
    "libheif.wasm": libheif,
  };
  // Joined with "/" on every platform: on Windows the root is "B:/~BUN/root", and `new Worker`
  // finds an embedded script only by that spelling (with "\" it fails with ENOENT, measured
  // under Wine; node:path's win32 join would make it "B:\~BUN\root\…").
  return { files, mainScript: posix.join(root, entries.vipsPthread), workerScript: posix.join(root, entries.worker) };
}
