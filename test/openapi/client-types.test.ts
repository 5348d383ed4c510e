import { expect, test } from "bun:test";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ROOT } from "../helpers/server.ts";

// The typed client's compile-time checks: test/types/client-usage.ts compiles as it is, and
// without its @ts-expect-error comments each marked line is an error of its own.

const FILE = join(ROOT, "test/types/client-usage.ts");
const TSC = join(ROOT, "node_modules/.bin/tsc");
const FLAGS = ["--noEmit", "--strict", "--target", "ES2022", "--module", "ESNext", "--moduleResolution", "bundler"];
const MORE = ["--allowImportingTsExtensions", "--skipLibCheck", "--types", "bun", "--lib", "ES2023,DOM,DOM.Iterable"];

async function tsc(file: string) {
  const proc = Bun.spawn([TSC, ...FLAGS, ...MORE, file], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const out = await new Response(proc.stdout).text();
  return { code: await proc.exited, out };
}

test("wrong routes, parameters and bodies do not compile", async () => {
  const source = await readFile(FILE, "utf8");
  const expected = source
    .split("\n")
    .flatMap((line, i) => (line.trim().startsWith("// @ts-expect-error") ? [i + 2] : []));
  expect(expected.length).toBeGreaterThanOrEqual(7);
  expect((await tsc(FILE)).code).toBe(0);

  const dir = await mkdtemp(join(ROOT, "test/types/.tmp-"));
  try {
    const bare = join(dir, "client-usage.ts");
    await writeFile(bare, source.replaceAll("// @ts-expect-error", "//").replace("../../src/", "../../../src/"));
    const { code, out } = await tsc(bare);
    expect(code).not.toBe(0);
    const lines = [...new Set([...out.matchAll(/client-usage\.ts\((\d+),\d+\): error/g)].map((m) => Number(m[1])))];
    expect(lines).toEqual(expected);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 120_000);
