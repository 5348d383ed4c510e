import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { decode } from "../helpers/images.ts";
import { FIXTURES, ROOT } from "../helpers/server.ts";

// Guard for codecs/webp_enc_simd_jsc.wasm (scripts/webp-simd-jsc.ts): jsquash's SIMD WebP
// encoder with the shuffles that Bun's optimizing wasm tier miscompiles rewritten. Under Bun it
// must give, byte for byte, what the unmodified SIMD module gives under V8 (Deno) — and what
// the scalar build that imgd ships gives under Bun.

const ENC = join(ROOT, "node_modules/@jsquash/webp/codec/enc");
const SCRIPT = join(ROOT, "test/speed/webp-simd-encode.mjs");
const REPEATS = 6;
let dir: string;

async function run(cmd: string[], out: string) {
  await mkdir(out, { recursive: true });
  const p = Bun.spawn([...cmd, join(dir, "in"), out, String(REPEATS)], { stdout: "pipe", stderr: "pipe" });
  const code = await p.exited;
  if (code !== 0) throw new Error(`${cmd.join(" ")} failed: ${await new Response(p.stderr).text()}`);
  const files: Record<string, Uint8Array> = {};
  for (const f of await readdir(out)) files[f] = new Uint8Array(await readFile(join(out, f)));
  return files;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "imgd-webp-simd-"));
  await mkdir(join(dir, "in"));
  const photo = join(FIXTURES, "2569067123_aca715a2ee_o.jpg");
  const rgba = (file: string, width?: number) =>
    sharp(file).resize(width).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const inputs: [string, Awaited<ReturnType<typeof rgba>>, number, number][] = [];
  const small = await rgba(photo, 800);
  inputs.push(["photo800-q80-m4", small, 80, 4], ["photo800-q80-m2", small, 80, 2], ["photo800-q50-m6", small, 50, 6]);
  inputs.push(["odd37-q90-m4", await rgba(photo, 37), 90, 4]);
  inputs.push(["alpha-q75-m4", await rgba(join(FIXTURES, "with-alpha.png")), 75, 4]);
  for (const [name, { data, info }, quality, method] of inputs) {
    await writeFile(join(dir, "in", `${name}.rgba`), data);
    await writeFile(
      join(dir, "in", `${name}.json`),
      JSON.stringify({ width: info.width, height: info.height, quality, method }),
    );
  }
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("SIMD WebP encoder rewritten for Bun", () => {
  test("Bun's output equals V8's byte for byte, on every run, and the scalar build's", async () => {
    const bun = process.execPath;
    const deno = join(ROOT, "node_modules/.bin/deno");
    const patched = await run(
      [bun, SCRIPT, join(ROOT, "codecs/webp_enc_simd_jsc.wasm"), join(ENC, "webp_enc_simd.js")],
      join(dir, "bun-patched"),
    );
    const v8 = await run(
      [deno, "run", "-A", SCRIPT, join(ENC, "webp_enc_simd.wasm"), join(ENC, "webp_enc_simd.js")],
      join(dir, "v8-simd"),
    );
    const scalar = await run(
      [bun, SCRIPT, join(ENC, "webp_enc.wasm"), join(ENC, "webp_enc.js")],
      join(dir, "bun-scalar"),
    );
    const names = Object.keys(v8).sort();
    expect(names.length).toBe(5 * REPEATS);
    expect(Object.keys(patched).sort()).toEqual(names);
    for (const name of names) {
      expect({ name, equal: Buffer.compare(patched[name]!, v8[name]!) === 0 }).toEqual({ name, equal: true });
      expect({ name, equal: Buffer.compare(scalar[name]!, v8[name]!) === 0 }).toEqual({ name, equal: true });
    }
    const d = await decode(patched["photo800-q80-m4.5.webp"]!);
    expect(d).toMatchObject({ format: "webp", width: 800 });
  }, 300_000);
});
