// The single executable: `bun scripts/build.ts` (what `npm run build` runs) builds it, then it
// runs alone in an empty folder (no node_modules anywhere above it, no source tree), serves an
// upload made with its own `imgd upload`, transforms to AVIF and WebP, and stops cleanly.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFile, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, parse } from "node:path";
import pkg from "../package.json" with { type: "json" };
import sharp from "sharp";
import { pattern, tga } from "./formats/samples.ts";
import { decode, makeImage } from "./helpers/images.ts";
import { FIXTURES, ROOT } from "./helpers/server.ts";
import { checkDocsInBrowser, hasChromium } from "./openapi/docs-browser.ts";

const EXE = process.platform === "win32" ? "imgd.exe" : "imgd";

/** The environment the binary runs with: nothing from this test process (no NODE_PATH, BUN_*). */
const cleanEnv = (extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: process.env.HOME ?? "/tmp",
  ...extra,
});

async function hasNodeModulesAbove(dir: string): Promise<string | null> {
  for (let d = dir; ; d = dirname(d)) {
    if (await stat(join(d, "node_modules")).catch(() => null)) return join(d, "node_modules");
    if (d === parse(d).root) return null;
  }
}

describe("the compiled binary", () => {
  let buildDir = "";
  let runDir = "";
  let bin = "";
  let proc: ReturnType<typeof Bun.spawn> | null = null;
  let out = "";
  let url = "";
  let adminKey = "";

  beforeAll(async () => {
    buildDir = await mkdtemp(join(tmpdir(), "imgd-build-"));
    const build = Bun.spawnSync([process.execPath, join(ROOT, "scripts/build.ts"), "--outfile", join(buildDir, EXE)], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    if (build.exitCode !== 0) throw new Error(`build failed (${build.exitCode}):\n${build.stdout}\n${build.stderr}`);

    // The binary alone, in an empty folder with nothing installed above it.
    runDir = await mkdtemp(join(tmpdir(), "imgd-bin-"));
    bin = join(runDir, EXE);
    await copyFile(join(buildDir, EXE), bin);
    await rm(buildDir, { recursive: true, force: true });
  }, 120_000);

  afterAll(async () => {
    if (proc && proc.exitCode === null) proc.kill("SIGKILL");
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
    if (runDir) await rm(runDir, { recursive: true, force: true });
  });

  test("runs alone from an empty folder: upload with the CLI, AVIF and WebP variants, SIGTERM exits 0", async () => {
    expect(await readdir(runDir)).toEqual([EXE]);
    expect(await hasNodeModulesAbove(runDir)).toBeNull();
    expect((await stat(bin)).size).toBeGreaterThan(50 * 1024 * 1024);

    const version = Bun.spawnSync([bin, "--version"], { cwd: runDir, env: cleanEnv() });
    expect(version.exitCode).toBe(0);
    expect(version.stdout.toString().trim()).toBe(pkg.version);

    // `imgd serve` with defaults except the port: the data dir is ./data in the empty folder.
    proc = Bun.spawn([bin, "serve", "--host", "127.0.0.1", "--port", "0"], {
      cwd: runDir,
      env: cleanEnv({ IMGD_WORKERS: "1" }),
      stdout: "pipe",
      stderr: "pipe",
    });
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      const dec = new TextDecoder();
      const reader = stream.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) out += dec.decode(r.value, { stream: true });
    };
    void collect(proc.stdout as ReadableStream<Uint8Array>);
    void collect(proc.stderr as ReadableStream<Uint8Array>);
    const started = Date.now();
    while (!url) {
      const m = /imgd listening on (http:\/\/\S+)/.exec(out);
      if (m) url = m[1];
      else if (proc.exitCode !== null) throw new Error(`imgd exited with ${proc.exitCode} before listening:\n${out}`);
      else if (Date.now() - started > 60_000) throw new Error(`imgd did not start within 60 s:\n${out}`);
      else await Bun.sleep(25);
    }
    adminKey = /Admin API key[^\n]*\n(imgsrc_\w+)/.exec(out)?.[1] ?? "";
    expect(adminKey).not.toBe("");
    expect(out).toContain("data: ./data");
    expect((await stat(join(runDir, "data/imgd.sqlite"))).isFile()).toBe(true);
    expect(await (await fetch(`${url}/health`)).json()).toMatchObject({ status: "ok" });
    // The dashboard and its assets come from inside the binary.
    const home = await fetch(`${url}/`);
    expect(home.headers.get("content-type")).toContain("text/html");
    const script = /src="(\/assets\/app-[0-9a-f]+\.js)"/.exec(await home.text())?.[1];
    const asset = await fetch(`${url}${script}`);
    expect({ status: asset.status, type: asset.headers.get("content-type") }).toEqual({
      status: 200,
      type: "text/javascript; charset=utf-8",
    });
    expect((await asset.text()).length).toBeGreaterThan(10_000);

    // Upload through the binary's own CLI.
    await writeFile(join(runDir, "photo.jpg"), await makeImage(400, 300, "jpg"));
    const upload = Bun.spawnSync([bin, "upload", "photo.jpg", "--server", url], {
      cwd: runDir,
      env: cleanEnv({ IMGD_API_KEY: adminKey }),
    });
    expect({ code: upload.exitCode, err: upload.stderr.toString() }).toMatchObject({ code: 0 });
    expect(upload.stdout.toString().trim()).toBe(`${url}/i/admin/photo.jpg`);

    const variant = async (path: string, type: string) => {
      const res = await fetch(`${url}/i/admin/${path}`);
      expect({ path, status: res.status, type: res.headers.get("content-type") }).toEqual({ path, status: 200, type });
      return decode(new Uint8Array(await res.arrayBuffer()));
    };
    expect(await variant("photo.avif?w=200", "image/avif")).toMatchObject({ format: "avif", width: 200, height: 150 });
    expect(await variant("photo.webp?w=120&h=120&fit=cover", "image/webp")).toMatchObject({
      format: "webp",
      width: 120,
      height: 120,
    });

    // The text watermark's font is embedded (codecs/steps/font-atlas.gen.ts): white text over the
    // dark corner of the gradient makes it brighter there.
    const corner = async (query: string) => {
      const res = await fetch(`${url}/imgwire/cdn/admin/photo.jpg?f=png&w=200&${query}`);
      expect(res.status).toBe(200);
      const { data, info } = await sharp(new Uint8Array(await res.arrayBuffer()))
        .extract({ left: 0, top: 0, width: 100, height: 20 })
        .greyscale()
        .raw()
        .toBuffer({ resolveWithObject: true });
      return data.reduce((a, b) => a + b, 0) / (info.width * info.height);
    };
    expect(await corner("wmt=imgd%20imgd&wmp=nowe")).toBeGreaterThan((await corner("")) + 15);

    // Decoders outside wasm-vips are embedded too: libheif's wasm (HEIC), the TGA package; and
    // an animation stays animated.
    await copyFile(join(FIXTURES, "iphone-like-10bit-orientation-6.heic"), join(runDir, "phone.heic"));
    await writeFile(join(runDir, "pattern.tga"), await tga(pattern(64, 48), 64, 48));
    await copyFile(join(FIXTURES, "animated-loop-3.gif"), join(runDir, "anim.gif"));
    const more = Bun.spawnSync([bin, "upload", "phone.heic", "pattern.tga", "anim.gif", "--server", url], {
      cwd: runDir,
      env: cleanEnv({ IMGD_API_KEY: adminKey }),
    });
    expect({ code: more.exitCode, err: more.stderr.toString() }).toMatchObject({ code: 0 });
    expect(await variant("phone.png", "image/png")).toMatchObject({ format: "png", width: 160, height: 120 });
    expect(await variant("pattern.jpg?w=32", "image/jpeg")).toMatchObject({ format: "jpeg", width: 32, height: 24 });
    const anim = await fetch(`${url}/i/admin/anim.webp?w=100`);
    expect((await sharp(new Uint8Array(await anim.arrayBuffer()), { animated: true }).metadata()).pages).toBe(10);

    // The API document and the interactive reference, Swagger UI included, from inside the binary.
    const doc = await (await fetch(`${url}/openapi.json`)).json();
    expect(doc.info.version).toBe(pkg.version);
    expect(doc.paths["/api/v1/images"].post.operationId).toBe("uploadImage");
    if (hasChromium()) await checkDocsInBrowser(url, adminKey, await makeImage(64, 48, "jpg"));
    else console.warn("skipped the /docs browser check: no /usr/bin/chromium");

    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(out).toContain("imgd stopped");
    expect(out).not.toMatch(/panic|uncaught/i);
  }, 120_000);
});
