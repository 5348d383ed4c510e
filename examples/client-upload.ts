// Uploads one file with imgd's typed client and prints what happened, as JSON. Runs on Bun,
// Deno and Node (bundled: `bun build examples/client-upload.ts --target node`).
//
//   IMGD_URL=http://localhost:3000 IMGD_KEY=imgsrc_… bun examples/client-upload.ts photo.jpg
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { createImgdClient } from "../src/client/index.ts";

const [file] = process.argv.slice(2);
const imgd = createImgdClient({
  baseUrl: process.env.IMGD_URL ?? "http://localhost:3000",
  apiKey: process.env.IMGD_KEY,
});
const progress: { loaded: number; total: number }[] = [];
const image = await imgd.upload(await readFile(file), {
  filename: basename(file),
  target_path: "examples",
  onProgress: (p) => progress.push(p),
});
const { data } = await imgd.GET("/api/v1/images/{id}", { params: { path: { id: image.id } } });
console.log(JSON.stringify({ id: image.id, paths: image.paths, width: data?.metadata.width, progress }));
