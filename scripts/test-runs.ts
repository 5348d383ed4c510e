// The runs beside plain `bun test` (which takes every test file on Bun, SQLite and the
// filesystem store). Each run is a set of folders, so a new test file joins the right runs by
// where it lives: a file in one of the HTTP folders runs on Deno and on PostgreSQL + S3 too.
//   bun scripts/test-runs.ts deno|s3 [test files or folders…]
// (the PostgreSQL run is scripts/test-postgres.ts, which takes its list from here).
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** The folders of suites that talk HTTP to a server: what depends on its runtime, database and store. */
const HTTP = [
  "test/native",
  "test/imgpro",
  "test/imgwire",
  "test/delivery",
  "test/metering",
  "test/dashboard",
  "test/security",
];

/** Each run: folders (or files) it takes, all beside the HTTP folders. */
export const RUNS = {
  /** The server on Deno (IMGD_TEST_RUNTIME=deno): also the CLI and the OpenAPI document and client. */
  deno: [...HTTP, "test/cli.test.ts", "test/openapi/document.test.ts", "test/openapi/client.test.ts"],
  /** PostgreSQL (IMGD_TEST_DATABASE=postgres), with S3 under `npm run test:pg`: also the races and the plans. */
  postgres: [...HTTP, "test/ops/races.test.ts", "test/ops/plans.test.ts"],
  /** The S3 store on SQLite: also the S3 client's own tests. */
  s3: [...HTTP, "test/store/s3.test.ts"],
} as const;

export type RunName = keyof typeof RUNS;

/**
 * A browser test drives headless Chromium against the page: the server's runtime, database and
 * store change nothing there, so it runs in plain `bun test` only.
 */
const onlyInPlainRun = (file: string) => /(^|\/)[^/]*browser[^/]*\.test\.ts$/.test(file);

/** The test files of a run, as paths `bun test` takes (`./…`, so they are no name filters). */
export function testFiles(entries: readonly string[], root = process.cwd()): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    if (statSync(join(root, path)).isDirectory()) {
      for (const name of readdirSync(join(root, path)).sort()) walk(join(path, name));
    } else if (path.endsWith(".test.ts") && !onlyInPlainRun(path)) out.push(`./${path}`);
  };
  for (const entry of entries) walk(entry);
  return [...new Set(out)];
}

if (import.meta.main) {
  const [name, ...rest] = process.argv.slice(2);
  if (name !== "deno" && name !== "s3") {
    console.error("usage: bun scripts/test-runs.ts deno|s3 [test files or folders…]");
    process.exit(2);
  }
  const env = { ...process.env, ...(name === "deno" && { IMGD_TEST_RUNTIME: "deno" }) };
  const files = testFiles(rest.length ? rest : RUNS[name]);
  const run = Bun.spawn([process.execPath, "test", "--timeout", "60000", "--parallel=2", ...files], {
    env,
    stdout: "inherit",
    stderr: "inherit",
  });
  process.exit(await run.exited);
}
