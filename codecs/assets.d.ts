// `import path from "x.wasm" with { type: "file" }` (codecs/embedded.compiled.ts): Bun gives
// the path of the file, inside a compiled binary the path of its embedded copy.
declare module "*.wasm" {
  const path: string;
  export default path;
}
