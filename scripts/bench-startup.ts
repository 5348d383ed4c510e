// Start-up figures of the single executable, run alone from an empty temporary folder:
// binary size, time from exec to the first successful `GET /health`, resident memory when
// idle and after the first transform (RSS of the whole process: main thread, codec workers
// and their wasm memories).
//
//   bun scripts/bench-startup.ts [--no-build] [--runs N] [--source] [--target T]
//
//   --no-build   reuse dist/imgd (or dist/imgd-<target>) instead of building it first
//   --runs N     start the binary N times (default 3) and report the median start-up time
//   --source     also measure `bun src/main.ts serve` from the source tree, for comparison
//   --target T   the binary of another target, under its runner (scripts/runners.ts):
//                bun-linux-arm64 under qemu-user, bun-windows-x64 under Wine
//
// The server runs with its defaults (one codec worker per core) except for IMGD_* variables
// set in this environment (e.g. IMGD_WORKERS=1).
// RSS comes from /proc/<pid>/status (VmRSS; VmHWM is the peak), so memory figures are Linux-only;
// under a runner they include the emulator's (qemu) or Wine's own memory.

import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBinary, DIST, ROOT } from "./build.ts";
import { foreignRunners, type Runner } from "./runners.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const RUNS = Math.max(1, Number(args[args.indexOf("--runs") + 1] ?? 3) || 3);
const TARGET = args.includes("--target") ? args[args.indexOf("--target") + 1] : undefined;
const RUNNER: Runner | undefined = TARGET ? foreignRunners().find((r) => r.target === TARGET) : undefined;
if (TARGET && !RUNNER)
  throw new Error(
    `--target takes ${foreignRunners()
      .map((r) => r.target)
      .join(" or ")}`,
  );
if (RUNNER?.missing) throw new Error(`${RUNNER.target} cannot run here: ${RUNNER.missing}`);
const EXE = RUNNER ? RUNNER.exe : process.platform === "win32" ? "imgd.exe" : "imgd";
/** Emulated start-up and transforms take many times longer than native ones. */
const HEALTH_LIMIT_MS = RUNNER ? 600_000 : 60_000;
const FIXTURE = join(ROOT, "test/fixtures/2569067123_aca715a2ee_o.jpg");

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

/** VmRSS and VmHWM of a process, in bytes (null where /proc is absent). */
async function memory(pid: number): Promise<{ rss: number; peak: number } | null> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => null);
  if (!status) return null;
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

interface Run {
  startMs: number;
  idle: { rss: number; peak: number } | null;
  firstTransformMs?: number;
  afterTransform?: { rss: number; peak: number } | null;
  firstAvifMs?: number;
  avifError?: string;
  afterAvif?: { rss: number; peak: number } | null;
}

/** Starts `command` in `cwd`; measures exec → first 200 from /health; optionally one transform. */
async function measure(command: string[], cwd: string, transform: Uint8Array | null): Promise<Run> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let out = "";
  const t0 = performance.now();
  const proc = Bun.spawn([...command, "serve", "--host", "127.0.0.1", "--port", String(port)], {
    cwd,
    // Nothing of this process's environment but PATH, HOME and IMGD_* settings (and the runner's).
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      ...(RUNNER ? { IMGD_JOB_TIMEOUT_MS: "600000", ...RUNNER.env() } : {}),
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("IMGD_"))),
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    const reader = stream.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) out += dec.decode(r.value, { stream: true });
  };
  void collect(proc.stdout);
  void collect(proc.stderr);
  try {
    let startMs = 0;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`imgd exited with ${proc.exitCode}:\n${out}`);
      if (performance.now() - t0 > HEALTH_LIMIT_MS)
        throw new Error(`imgd did not answer /health within ${HEALTH_LIMIT_MS / 1000} s:\n${out}`);
      const ok = await fetch(`${base}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) {
        startMs = performance.now() - t0;
        break;
      }
      await Bun.sleep(5);
    }
    await Bun.sleep(1000); // let start-up garbage settle before calling it idle
    const run: Run = { startMs, idle: await memory(proc.pid) };
    if (transform) {
      const key = /Admin API key[^\n]*\n(imgsrc_\w+)/.exec(out)?.[1];
      if (!key) throw new Error(`no admin key printed:\n${out}`);
      const fd = new FormData();
      fd.append("file", new Blob([transform as BlobPart], { type: "image/jpeg" }), "photo.jpg");
      const up = await fetch(`${base}/api/v1/images`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}` },
        body: fd,
      });
      if (up.status !== 201) throw new Error(`upload: ${up.status} ${await up.text()}`);
      const get = async (path: string) => {
        const t = performance.now();
        const res = await fetch(`${base}/i/admin/${path}`);
        const body = await res.arrayBuffer();
        if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${new TextDecoder().decode(body)}`);
        return performance.now() - t;
      };
      run.firstTransformMs = await get("photo.webp?w=800");
      run.afterTransform = await memory(proc.pid);
      // AVIF in wasm is slow (seconds for 800 px); on a loaded machine it can pass the job
      // deadline (IMGD_JOB_TIMEOUT_MS), which is reported rather than fatal.
      run.firstAvifMs = await get("photo.avif?w=800").catch((e: Error) => ((run.avifError = e.message), undefined));
      run.afterAvif = await memory(proc.pid);
    }
    return run;
  } finally {
    proc.kill(RUNNER?.stopSignal ?? "SIGTERM");
    await proc.exited;
  }
}

async function bench(label: string, command: string[], cwd: string): Promise<void> {
  const photo = (await Bun.file(FIXTURE).exists())
    ? new Uint8Array(await Bun.file(FIXTURE).arrayBuffer())
    : await (await import("../test/helpers/images.ts")).makeImage(4000, 3000, "jpg");
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    await rm(join(cwd, "data"), { recursive: true, force: true }); // every run is a first start
    runs.push(await measure(command, cwd, i === RUNS - 1 ? photo : null));
  }
  const last = runs[runs.length - 1]!;
  const mem = (m: { rss: number; peak: number } | null | undefined) =>
    m ? `${mib(m.rss)} (peak ${mib(m.peak)})` : "n/a";
  console.log(`\n${label}`);
  console.log(
    `  exec → first /health      ${median(runs.map((r) => r.startMs)).toFixed(0)} ms median of ${RUNS} (${runs.map((r) => r.startMs.toFixed(0)).join(", ")})`,
  );
  console.log(`  RSS idle                  ${mem(last.idle)}`);
  console.log(
    `  first transform           ${last.firstTransformMs?.toFixed(0)} ms (${(photo.length / 1024).toFixed(0)} KiB JPEG → 800 px WebP)`,
  );
  console.log(`  RSS after it              ${mem(last.afterTransform)}`);
  console.log(
    `  then first AVIF           ${last.avifError ? `failed: ${last.avifError}` : `${last.firstAvifMs?.toFixed(0)} ms (→ 800 px AVIF)`}`,
  );
  console.log(`  RSS after AVIF            ${mem(last.afterAvif)}`);
}

const binary = RUNNER
  ? join(DIST, `imgd-${RUNNER.target.replace(/^bun-/, "")}${RUNNER.exe.endsWith(".exe") ? ".exe" : ""}`)
  : join(DIST, EXE);
if (!flag("--no-build") || !(await stat(binary).catch(() => null))) {
  const r = await buildBinary({ outfile: binary, target: RUNNER?.target });
  if (!r.ok) throw new Error(`build failed: ${r.error}`);
}
const dir = await mkdtemp(join(tmpdir(), "imgd-startup-"));
try {
  const bin = RUNNER ? await RUNNER.install(binary, dir) : join(dir, EXE);
  if (!RUNNER) await copyFile(binary, bin);
  const workers = process.env.IMGD_WORKERS ?? `default (${navigator.hardwareConcurrency})`;
  const under = RUNNER
    ? ` under ${RUNNER.name} (${RUNNER.version})${RUNNER.adjustments.length ? `; ${RUNNER.adjustments.join("; ")}` : ""}`
    : "";
  console.log(
    `imgd binary ${binary}: ${mib((await stat(binary)).size)}${under}; workers ${workers}; run from empty folder ${dir}`,
  );
  await bench(
    RUNNER ? `compiled binary, ${RUNNER.target} under ${RUNNER.name}` : "compiled binary",
    RUNNER ? RUNNER.command(bin, []) : [bin],
    dir,
  );
  if (flag("--source")) {
    await writeFile(join(dir, "README"), "source-tree comparison run\n");
    await bench("source tree (bun src/main.ts)", [process.execPath, join(ROOT, "src/main.ts")], dir);
  }
} finally {
  await RUNNER?.close();
  await rm(dir, { recursive: true, force: true });
}
