// What a compiled binary embeds, as seen from the source tree: nothing. Running from the
// source tree (`bun src/main.ts`, Deno, the tests) every wasm file and worker script resolves
// from node_modules and codecs/, so `embedded` is undefined here.
//
// `scripts/build.ts` (`bun build --compile`) replaces this module's contents with a generated
// `export const embedded = embeddedAssets({ worker, vipsPthread })` (embedded.compiled.ts),
// which imports the wasm files `with { type: "file" }` and locates the worker scripts that are
// extra entrypoints of the build. This file stays free of those import attributes so that Deno
// (which has no `type: "file"`) never sees them.

import type { EmbeddedVipsAssets } from "./wasm.ts";

export const embedded: EmbeddedVipsAssets | undefined = undefined;
