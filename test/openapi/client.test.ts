import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createImgdClient, ImgdError } from "../../src/client/index.ts";
import { decode, makeImage } from "../helpers/images.ts";
import { ROOT, type TestServer, startServer } from "../helpers/server.ts";

// The typed client (imgd/client) against a real server: upload with progress, list, a
// transformed delivery, delete; and the same upload from Node and Deno.

let s: TestServer;
let dir: string;
beforeAll(async () => {
  s = await startServer();
  dir = await mkdtemp(join(tmpdir(), "imgd-client-"));
});
afterAll(async () => {
  await s.stop();
  await rm(dir, { recursive: true, force: true });
});

test("upload with progress, list, transform and delete through the typed client", async () => {
  const imgd = createImgdClient({ baseUrl: s.url, apiKey: s.adminKey });
  const bytes = await makeImage(640, 480, "jpg");
  const progress: { loaded: number; total: number }[] = [];
  const image = await imgd.upload(bytes, {
    filename: "client.jpg",
    target_path: "sdk",
    onProgress: (p) => progress.push(p),
  });
  expect(image.paths).toEqual(["sdk/client.jpg"]);
  expect(image.dimensions).toEqual({ width: 640, height: 480 });
  expect(image.is_new).toBe(true);
  // Progress climbs to the whole body (the file plus the form around it).
  expect(progress.length).toBeGreaterThan(1);
  const last = progress.at(-1)!;
  expect(last.loaded).toBe(last.total);
  expect(last.total).toBeGreaterThan(bytes.byteLength);
  expect(progress.every((p, i) => i === 0 || p.loaded > progress[i - 1].loaded)).toBe(true);

  const list = await imgd.GET("/api/v1/images", { params: { query: { path: "sdk", limit: 10 } } });
  expect(list.response.status).toBe(200);
  expect(list.data!.images.map((i) => i.id)).toEqual([image.id]);
  expect(list.data!.total).toBe(1);

  const username = new URL(image.url).pathname.split("/")[2];
  const variant = await imgd.GET("/i/{username}/{path}", {
    params: { path: { username, path: "sdk/client.png" }, query: { w: 100, fit: "cover", h: 100 } },
    parseAs: "arrayBuffer",
  });
  expect(variant.response.status).toBe(200);
  const out = await decode(new Uint8Array(variant.data as ArrayBuffer));
  expect(out).toMatchObject({ format: "png", width: 100, height: 100 });

  const del = await imgd.DELETE("/api/v1/images/{id}", { params: { path: { id: image.id } } });
  expect(del.data!.deleted_paths).toEqual(["sdk/client.jpg"]);
  const gone = await imgd.GET("/api/v1/images/{id}", { params: { path: { id: image.id } } });
  expect(gone.response.status).toBe(404);
  expect(gone.error!.error.code).toBe("NOT_FOUND");
});

test("a refused upload rejects with the server's code and message", async () => {
  const imgd = createImgdClient({ baseUrl: s.url, apiKey: s.adminKey });
  const err = await imgd.upload(new TextEncoder().encode("not an image"), { filename: "x.jpg" }).catch((e) => e);
  expect(err).toBeInstanceOf(ImgdError);
  expect(err.status).toBe(400);
  expect(err.code).toBe("INVALID_FILE");
  const anon = createImgdClient({ baseUrl: s.url });
  const denied = await anon.request("GET", "/api/v1/images?limit=1").catch((e) => e);
  expect(denied).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
});

test("the client uploads with progress on Node and Deno too", async () => {
  const file = join(dir, "runtime.png");
  await writeFile(file, await makeImage(300, 200, "png"));
  const env = { ...process.env, IMGD_URL: s.url, IMGD_KEY: s.adminKey };
  const bundle = join(dir, "client-upload.mjs");
  const built = await Bun.build({ entrypoints: [join(ROOT, "examples/client-upload.ts")], target: "node" });
  expect(built.success).toBe(true);
  await writeFile(bundle, await built.outputs[0].text());
  const runs: Record<string, string[]> = {
    node: ["node", bundle, file],
    deno: [join(ROOT, "node_modules/.bin/deno"), "run", "-A", join(ROOT, "examples/client-upload.ts"), file],
  };
  for (const [runtime, cmd] of Object.entries(runs)) {
    const proc = Bun.spawn(cmd, { env, cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    if (code !== 0) throw new Error(`${runtime}: exit ${code}\n${err}`);
    const r = JSON.parse(out.trim().split("\n").at(-1)!);
    expect(r.width).toBe(300);
    expect(r.paths).toEqual(["examples/runtime.png"]);
    const last = r.progress.at(-1);
    expect(last.loaded).toBe(last.total);
  }
});
