// Builds imgd as one self-contained executable with `bun build --compile`.
//
//   bun scripts/build.ts                    dist/imgd for this machine
//   bun scripts/build.ts --all              also dist/imgd-<os>-<arch>[.exe] for the other targets
//   bun scripts/build.ts --target bun-linux-arm64 [--outfile path]   one given target
//
// What goes into the binary (nothing is read from node_modules or the source tree at run time):
// - src/main.ts, the CLI, with everything it imports (migrations are TypeScript modules, the
//   version comes from package.json, both bundled).
// - Two extra entrypoints, bundled separately and stored at `<bunfs root>/<path>.js`: our codec
//   worker (codecs/worker.ts), which the pool spawns, and wasm-vips' vips-node.mjs, which its
//   pthreads load (`mainScriptUrlOrBlob`); without the latter the first pixel operation hangs.
// - In the binary, src/runtime/deno.ts is replaced by an empty stub (see `files` below).
// - The wasm files (vips.wasm and its side modules, jsquash's non-SIMD WebP encoder, libheif-js'
//   HEIC decoder), imported
//   `with { type: "file" }` by codecs/embedded.compiled.ts. The build replaces codecs/embedded.ts
//   (which says "nothing embedded" to source-tree runs and to Deno) by a module that calls it
//   with the entrypoints' paths inside the binary.
//
// Other targets need Bun's runtime for that platform, which `bun build` fetches from the npm
// registry (package @oven/bun-<os>-<arch>) on first use. A target that cannot be built is
// reported with its reason; the exit code is then 1, after every target has been tried.

import { realpathSync } from "node:fs";
import { stat } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import type { EmbeddedEntries } from "../codecs/embedded.compiled.ts";

export const ROOT = resolve(import.meta.dir, "..");
export const DIST = join(ROOT, "dist");

/** The targets of `--all`; the one matching this machine is built as plain dist/imgd. */
export const ALL_TARGETS = [
  "bun-linux-x64",
  "bun-linux-arm64",
  "bun-darwin-x64",
  "bun-darwin-arm64",
  "bun-windows-x64",
] as const;

/** This machine's target name, e.g. "bun-linux-x64". */
export function hostTarget(): string {
  const os = process.platform === "win32" ? "windows" : process.platform;
  return `bun-${os}-${process.arch}`;
}

export interface BuildResult {
  target: string;
  outfile: string;
  ok: boolean;
  bytes?: number;
  ms: number;
  error?: string;
}

/**
 * The entrypoints of the binary, as real paths (the bundler resolves symlinks, e.g. a linked
 * node_modules), and the build's root: their common folder. The bundler stores each entry at
 * `<bunfs root>/<path relative to that root>`; codecs/embedded.compiled.ts is told those paths.
 */
export function entrypoints() {
  const real = (p: string) => realpathSync(p);
  const main = real(join(ROOT, "src/main.ts"));
  const worker = real(join(ROOT, "codecs/worker.ts"));
  // wasm-vips' Node ESM build, next to its wasm (its exports map names no .mjs subpath).
  const vipsPthread = real(join(dirname(Bun.resolveSync("wasm-vips/vips.wasm", ROOT)), "vips-node.mjs"));
  const all = [main, worker, vipsPthread];
  let root = dirname(main);
  while (!all.every((p) => p.startsWith(root.endsWith(sep) ? root : root + sep))) {
    if (dirname(root) === root) throw new Error(`entrypoints have no common folder: ${all.join(", ")}`);
    root = dirname(root);
  }
  const rel = (p: string) =>
    relative(root, p)
      .split(sep)
      .join("/")
      .replace(/\.[cm]?[jt]s$/, ".js");
  const entries: EmbeddedEntries = { worker: rel(worker), vipsPthread: rel(vipsPthread) };
  return {
    files: all,
    root,
    entries,
    embeddedModule: real(join(ROOT, "codecs/embedded.ts")),
    denoModule: real(join(ROOT, "src/runtime/deno.ts")),
  };
}

/** Builds one executable. `target` undefined: this machine, with the running Bun (no download). */
export async function buildBinary(options: {
  outfile: string;
  target?: string;
  minify?: boolean;
}): Promise<BuildResult> {
  const started = performance.now();
  const target = options.target ?? hostTarget();
  const outfile = resolve(options.outfile);
  try {
    const entry = entrypoints();
    const result = await Bun.build({
      entrypoints: entry.files,
      // Entrypoints are stored at their path relative to this root (see entrypoints()).
      root: entry.root,
      // Assets flat at the bunfs root; embedded.compiled.ts finds the root from one of them.
      naming: { entry: "[dir]/[name].[ext]", asset: "[name]-[hash].[ext]" },
      files: {
        // The binary's answer to "what is embedded?" (the source tree's says: nothing).
        [entry.embeddedModule]:
          `import { embeddedAssets } from "./embedded.compiled.ts";\n` +
          `export const embedded = embeddedAssets(${JSON.stringify(entry.entries)});\n`,
        // The binary is Bun; the Deno adapter's static `node:sqlite` import (a module Bun 1.3
        // lacks) would fail when the bundle is linked, before any code runs.
        [entry.denoModule]: `export const denoRuntime = undefined;\n`,
      },
      minify: options.minify ?? true,
      sourcemap: "none",
      // Bytecode saves ~50 ms of start-up; the Windows binary built with it exits with code 3
      // before printing anything (under Wine 8), so that target loads source.
      bytecode: !options.target?.includes("windows"),
      format: "esm",
      compile: {
        ...(options.target ? { target: options.target as Bun.Build.CompileTarget } : {}),
        outfile,
        // A bunfig.toml in the folder the server is started from must not change the runtime.
        autoloadBunfig: false,
      },
      throw: false,
    });
    if (!result.success) {
      const why = result.logs.map((l) => String(l.message ?? l)).join("; ") || "bun build failed";
      return { target, outfile, ok: false, ms: performance.now() - started, error: why };
    }
    const bytes = (await stat(outfile)).size;
    return { target, outfile, ok: true, bytes, ms: performance.now() - started };
  } catch (err) {
    const e = err as Error & { errors?: unknown[] };
    const why = e.errors?.length
      ? e.errors.map((x) => String((x as Error).message ?? x)).join("; ")
      : (e.message ?? String(e));
    return { target, outfile, ok: false, ms: performance.now() - started, error: why };
  }
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

async function main(argv: string[]): Promise<number> {
  let all = false;
  let minify = true;
  let outfile: string | undefined;
  const targets: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--all") all = true;
    else if (a === "--no-minify") minify = false;
    else if (a === "--target") targets.push(argv[++i] ?? "");
    else if (a.startsWith("--target=")) targets.push(a.slice(9));
    else if (a === "--outfile") outfile = argv[++i];
    else if (a.startsWith("--outfile=")) outfile = a.slice(10);
    else if (a === "--help" || a === "-h") {
      console.log("Usage: bun scripts/build.ts [--all] [--target bun-<os>-<arch>]… [--outfile path] [--no-minify]");
      return 0;
    } else {
      console.error(`build: unknown argument '${a}'`);
      return 2;
    }
  }
  if (outfile && (all || targets.length > 1)) {
    console.error("build: --outfile takes one target");
    return 2;
  }

  const exe = (t: string) => (t.startsWith("bun-windows") ? ".exe" : "");
  const jobs: { target?: string; outfile: string }[] = [];
  if (targets.length === 0) jobs.push({ outfile: outfile ?? join(DIST, `imgd${exe(hostTarget())}`) });
  for (const t of targets)
    jobs.push({ target: t, outfile: outfile ?? join(DIST, `imgd-${t.replace(/^bun-/, "")}${exe(t)}`) });
  if (all) {
    for (const t of ALL_TARGETS) {
      if (t === hostTarget() || targets.includes(t)) continue;
      jobs.push({ target: t, outfile: join(DIST, `imgd-${t.replace(/^bun-/, "")}${exe(t)}`) });
    }
  }

  const results: BuildResult[] = [];
  for (const job of jobs) {
    process.stderr.write(
      `building ${job.target ?? `${hostTarget()} (host)`} → ${relative(process.cwd(), job.outfile)} … `,
    );
    const r = await buildBinary({ ...job, minify });
    results.push(r);
    process.stderr.write(r.ok ? `${mib(r.bytes!)} in ${(r.ms / 1000).toFixed(1)} s\n` : `FAILED\n`);
  }

  console.log("\ntarget              result   size        file");
  for (const r of results) {
    console.log(
      `${r.target.padEnd(20)}${(r.ok ? "ok" : "FAILED").padEnd(9)}${(r.ok ? mib(r.bytes!) : "-").padEnd(12)}${relative(process.cwd(), r.outfile)}`,
    );
  }
  const failed = results.filter((r) => !r.ok);
  for (const r of failed) console.log(`\n${r.target} failed: ${r.error}`);
  return failed.length ? 1 : 0;
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
