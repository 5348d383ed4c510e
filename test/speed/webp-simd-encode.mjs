// Encodes RGBA inputs with jsquash's SIMD WebP glue and a given wasm module. Run by the guard
// test in its own process (Bun, or Deno for V8's reference output):
//   <runtime> webp-simd-encode.mjs WASM GLUE_JS IN_DIR OUT_DIR REPEATS
// IN_DIR holds <name>.rgba files with <name>.json ({ width, height, quality, method }).
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { webpOptions } from "../../codecs/webp.ts";

const [wasmPath, gluePath, inDir, outDir, repeats] = globalThis.Deno?.args ?? process.argv.slice(2);
const compiled = await WebAssembly.compile(await readFile(wasmPath));
const { default: factory } = await import(pathToFileURL(gluePath).href);
const glue = await factory({
  noInitialRun: true,
  instantiateWasm(imports, done) {
    const i = new WebAssembly.Instance(compiled, imports);
    done(i);
    return i.exports;
  },
});
const names = (await readdir(inDir))
  .filter((f) => f.endsWith(".json"))
  .map((f) => f.slice(0, -5))
  .sort();
// Every input several times over: the optimizing tier takes over only once code is hot.
for (let r = 0; r < Number(repeats); r++) {
  for (const name of names) {
    const meta = JSON.parse(await readFile(join(inDir, `${name}.json`), "utf8"));
    const rgba = new Uint8Array(await readFile(join(inDir, `${name}.rgba`)));
    const out = glue.encode(rgba, meta.width, meta.height, webpOptions(meta.quality, meta.method));
    await writeFile(join(outDir, `${name}.${r}.webp`), out);
  }
}
