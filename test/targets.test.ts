// The binary on the targets it is built for that this Linux x64 machine can run: linux-arm64
// under qemu-user and windows-x64 under Wine (scripts/runners.ts; `.ci/run` installs both).
// The same smoke test as test/binary.test.ts, with small images and one worker: built with
// scripts/build.ts, alone in an empty folder, `serve`, an upload with its own CLI, a WebP and a
// JPEG variant decoded here with sharp (pixels too), then what the Windows file system makes
// different: the same bytes again (the staged copy is removed), a refused upload (its temp file
// is removed), a delete (blob and variants removed), and a clean stop. Under Wine the data
// directory is given as a Windows path (drive letter, backslashes). Emulation is slow and the
// machine may be busy: every deadline is generous. Where a runner is missing, its tests are
// skipped and say what to install.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import pkg from "../package.json" with { type: "json" };
import { foreignRunners, type Runner } from "../scripts/runners.ts";
import { ROOT } from "./helpers/server.ts";

const cleanEnv = (extra: Record<string, string>) => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: process.env.HOME ?? "/tmp",
  ...extra,
});

/** 400×300: left half red, right half blue, so a resize or crop shows where each half went. */
async function twoColourJpeg(): Promise<Uint8Array> {
  const half = { width: 200, height: 300, channels: 3 as const };
  const blue = await sharp({ create: { ...half, background: { r: 0, g: 0, b: 255 } } })
    .png()
    .toBuffer();
  const img = sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 255, g: 0, b: 0 } } }).composite(
    [{ input: blue, left: 200, top: 0 }],
  );
  return new Uint8Array(await img.jpeg({ quality: 90 }).toBuffer());
}

async function decoded(bytes: Uint8Array) {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  const meta = await sharp(bytes).metadata();
  const at = (x: number, y: number) =>
    Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
  return { format: meta.format, width: info.width, height: info.height, at };
}
const isRed = ([r, g, b]: number[]) => r > 200 && g < 60 && b < 60;
const isBlue = ([r, g, b]: number[]) => r < 60 && g < 60 && b > 200;

/** Spawns through the runner and collects its output; `wait` resolves when it exits. */
function run(runner: Runner, bin: string, args: string[], cwd: string, env: Record<string, string>) {
  const proc = Bun.spawn(runner.command(bin, args), {
    cwd,
    env: cleanEnv({ ...runner.env(), ...env }),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = { stdout: "", stderr: "" };
  const collect = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    const dec = new TextDecoder();
    const reader = stream.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read())
      out[key] += dec.decode(r.value, { stream: true });
  };
  const done = Promise.all([collect(proc.stdout, "stdout"), collect(proc.stderr, "stderr")]);
  const wait = async () => {
    const code = await proc.exited;
    // Wine's own processes (started by the first Windows program of a prefix) may inherit the
    // pipes and hold them open after imgd has exited: take what arrived, without waiting for EOF.
    await Promise.race([done, Bun.sleep(3000)]);
    return { code, ...out };
  };
  return { proc, out, wait };
}

async function withDeadline<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms)),
  );
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

for (const runner of foreignRunners()) {
  const label = `${runner.target} under ${runner.name}`;
  describe(label, () => {
    if (runner.missing) {
      test.skip(`skipped: ${runner.missing}`, () => {});
      console.log(`${label}: skipped, ${runner.missing}`);
      return;
    }

    let runDir = "";
    let bin = "";
    let server: ReturnType<typeof run> | null = null;

    beforeAll(async () => {
      const buildDir = await mkdtemp(join(tmpdir(), "imgd-build-"));
      try {
        const built = join(buildDir, runner.exe);
        const build = Bun.spawn(
          [process.execPath, join(ROOT, "scripts/build.ts"), "--target", runner.target, "--outfile", built],
          { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
        );
        if ((await build.exited) !== 0)
          throw new Error(
            `build of ${runner.target} failed:\n${await new Response(build.stdout).text()}\n${await new Response(build.stderr).text()}`,
          );
        runDir = await mkdtemp(join(tmpdir(), "imgd-target-"));
        bin = await runner.install(built, runDir);
      } finally {
        await rm(buildDir, { recursive: true, force: true });
      }
      if (runner.adjustments.length) console.log(`${label} (${runner.version}): ${runner.adjustments.join("; ")}`);
    }, 300_000);

    afterAll(async () => {
      if (server && server.proc.exitCode === null) server.proc.kill("SIGKILL");
      await server?.proc.exited;
      await runner.close();
      if (runDir) await rm(runDir, { recursive: true, force: true });
    }, 120_000);

    test("serves from an empty folder: CLI upload, WebP and JPEG variants, dedup, refusal, delete, clean stop", async () => {
      expect(await readdir(runDir)).toEqual([runner.exe]);

      // The first run under Wine also creates its prefix (several seconds).
      const version = await withDeadline("--version", 180_000, run(runner, bin, ["--version"], runDir, {}).wait());
      expect({ code: version.code, out: version.stdout.trim() }).toEqual({ code: 0, out: pkg.version });

      // Windows: the data directory as a Windows path; elsewhere the default ./data.
      const windows = runner.target === "bun-windows-x64";
      const dataArg = windows ? runner.hostPath(join(runDir, "data")) : "./data";
      const env = {
        IMGD_WORKERS: "1",
        // Loading wasm-vips, and every transform, is many times slower when emulated.
        IMGD_JOB_TIMEOUT_MS: "600000",
        ...(windows ? { IMGD_DATA_DIR: dataArg } : {}),
      };
      const started = performance.now();
      const serve = run(runner, bin, ["serve", "--host", "127.0.0.1", "--port", "0"], runDir, env);
      server = serve;
      const output = () => serve.out.stdout + serve.out.stderr;
      let url = "";
      while (!url) {
        const m = /imgd listening on (http:\/\/\S+)/.exec(output());
        if (m) url = m[1];
        else if (serve.proc.exitCode !== null)
          throw new Error(`imgd exited with ${serve.proc.exitCode} before listening:\n${output()}`);
        else if (performance.now() - started > 600_000)
          throw new Error(`imgd did not start within 600 s:\n${output()}`);
        else await Bun.sleep(50);
      }
      expect(await (await fetch(`${url}/health`)).json()).toMatchObject({ status: "ok" });
      console.log(`${label}: exec → first /health ${((performance.now() - started) / 1000).toFixed(1)} s`);
      expect(output()).toContain(`data: ${dataArg}`);
      expect((await stat(join(runDir, "data/imgd.sqlite"))).isFile()).toBe(true);
      const adminKey = /Admin API key[^\n]*\n(imgsrc_\w+)/.exec(output())?.[1] ?? "";
      expect(adminKey).not.toBe("");
      const api = (path: string, init: RequestInit = {}) =>
        fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${adminKey}`, ...init.headers } });

      // Upload through the binary's own CLI.
      const photo = await twoColourJpeg();
      await writeFile(join(runDir, "photo.jpg"), photo);
      const upload = await withDeadline(
        "imgd upload",
        300_000,
        run(runner, bin, ["upload", "photo.jpg", "--server", url], runDir, { IMGD_API_KEY: adminKey }).wait(),
      );
      expect({ code: upload.code, err: upload.stderr }).toMatchObject({ code: 0 });
      expect(upload.stdout.trim().split("\n").at(-1)).toBe(`${url}/i/admin/photo.jpg`);

      const variant = async (path: string, type: string) => {
        const res = await withDeadline(`GET ${path}`, 300_000, fetch(`${url}/i/admin/${path}`));
        const body = new Uint8Array(await res.arrayBuffer());
        expect({ path, status: res.status, type: res.headers.get("content-type") }).toEqual({
          path,
          status: 200,
          type,
        });
        return decoded(body);
      };
      const webp = await variant("photo.webp?w=200", "image/webp");
      expect({ format: webp.format, width: webp.width, height: webp.height }).toEqual({
        format: "webp",
        width: 200,
        height: 150,
      });
      expect([isRed(webp.at(30, 75)), isBlue(webp.at(170, 75))]).toEqual([true, true]);
      // cover: 400×300 → 160×120, centre 120 kept; the halves meet at x = 60.
      const jpeg = await variant("photo.jpg?w=120&h=120&fit=cover", "image/jpeg");
      expect({ format: jpeg.format, width: jpeg.width, height: jpeg.height }).toEqual({
        format: "jpeg",
        width: 120,
        height: 120,
      });
      expect([isRed(jpeg.at(15, 60)), isBlue(jpeg.at(105, 60))]).toEqual([true, true]);

      // The same bytes again: stored once; the staged copy is removed.
      const form = (bytes: Uint8Array, name: string) => {
        const fd = new FormData();
        fd.append("file", new Blob([bytes as BlobPart], { type: "image/jpeg" }), name);
        return fd;
      };
      const again = await api("/api/v1/images", { method: "POST", body: form(photo, "again.jpg") });
      const againBody = await again.json();
      expect({ status: again.status, is_new: againBody.is_new }).toEqual({ status: 201, is_new: false });
      // Not an image: 400, and its temp file is gone.
      const refused = await api("/api/v1/images", {
        method: "POST",
        body: form(new TextEncoder().encode("not an image"), "bad.jpg"),
      });
      expect(refused.status).toBe(400);
      expect(await readdir(join(runDir, "data/tmp"))).toEqual([]);

      // Delete: both paths' image goes with its blob and its variants.
      const list = await (await api("/api/v1/images")).json();
      expect(list.images.map((i: { id: string }) => i.id)).toEqual([againBody.id]);
      const del = await api(`/api/v1/images/${againBody.id}`, { method: "DELETE" });
      expect(del.status).toBeLessThan(300);
      expect((await fetch(`${url}/i/admin/photo.webp?w=200`)).status).toBe(404);
      const files = async (sub: string) =>
        (await readdir(join(runDir, "data", sub), { recursive: true, withFileTypes: true }))
          .filter((e) => e.isFile())
          .map((e) => e.name);
      expect({
        blobs: await files("blobs"),
        variants: await files("variants"),
        trash: await files("trash"),
        tmp: await files("tmp"),
      }).toEqual({ blobs: [], variants: [], trash: [], tmp: [] });

      serve.proc.kill(runner.stopSignal);
      const stopped = await withDeadline("stop", 120_000, serve.wait()).catch((err) => {
        throw new Error(`${err.message}; the server said:\n${output()}`);
      });
      expect({ code: stopped.code, out: stopped.stdout + stopped.stderr }).toMatchObject({
        code: 0,
        out: expect.stringContaining("imgd stopped"),
      });
      expect(output()).not.toMatch(/panic|uncaught/i);
    }, 1_200_000);
  });
}
