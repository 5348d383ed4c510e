// imgd against its peers, each pair measured in the same run with alternating rounds, so a
// busy machine slows both sides alike and the ratio says more than either figure.
//
//   npm run bench -- [--rounds 3] [--seconds 5] [--only cold,cache,startup,avif,srcset] [--json FILE]
//
// Rows:
//   cold    12 MP JPEG → unique widths 400–800 px WebP q80, c=2 and c=8: imgd vs ipx (req/s, p99)
//   cache   one cached variant at c=64: imgd vs nginx (one worker) serving the same bytes
//   startup binary exec → first /health, and → first 800 px WebP (dist/imgd; built if missing)
//   avif    first 800 px AVIF on a freshly started imgd vs sharp in-process, same effort
//   srcset  320/640/960/1280 of one new source requested together vs one width alone
//
// Peers, started here on 127.0.0.1: ipx (devDependency, run with Node: scripts/bench/ipx-server.mjs),
// sharp (devDependency, in this process), nginx from Debian's `nginx-light` when installed
// (skipped, saying so, when not). Cache-hit load comes from wrk (Debian `wrk`) when installed —
// a C client leaves more of the CPU to the servers — else from the fetch loop in bench/load.ts.
// Every figure is printed with the ratio imgd/peer; --json FILE saves them all.

import { chmod, copyFile, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import sharp from "sharp";
import { AVIF_EFFORT } from "../codecs/effort.ts";
import { load, type LoadResult, wrk } from "./bench/load.ts";

const ROOT = resolve(import.meta.dir, "..");
const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const ROUNDS = Number(opt("rounds") ?? 3);
const SECONDS = Number(opt("seconds") ?? 5);
const ONLY = new Set((opt("only") ?? "cold,cache,startup,avif,srcset").split(","));
const JSON_FILE = opt("json");
const FIXTURE = join(ROOT, "test/fixtures/2569067123_aca715a2ee_o.jpg");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : "n/a");
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "n/a");
const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : "n/a");

interface Row {
  row: string;
  [k: string]: unknown;
}
const rows: Row[] = [];
function report(row: Row, lines: string[]) {
  rows.push(row);
  console.log(`\n${row.row}`);
  for (const l of lines) console.log(`  ${l}`);
}

/** CPU time (user + system, all threads) a process has used so far, in ms; Linux /proc. */
function cpuMs(pid: number): number {
  try {
    const stat = require("node:fs").readFileSync(`/proc/${pid}/stat`, "utf8") as string;
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in 1/100 s ticks
  } catch {
    return NaN;
  }
}
/** Runs `f`, adding the CPU `pid` spent meanwhile to `into`. */
async function withCpu<T>(pid: number, into: number[], f: () => Promise<T>): Promise<T> {
  const c = cpuMs(pid);
  const out = await f();
  into.push(cpuMs(pid) - c);
  return out;
}

async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

interface Proc {
  proc: ReturnType<typeof Bun.spawn>;
  out: () => string;
}
/** Spawns a command and waits until its output matches `ready`. */
async function spawnUntil(
  cmd: string[],
  ready: RegExp,
  env: Record<string, string | undefined> = {},
  cwd?: string,
): Promise<Proc & { match: RegExpExecArray }> {
  const proc = Bun.spawn(cmd, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe", cwd });
  let text = "";
  for (const s of [proc.stdout, proc.stderr]) {
    void (async () => {
      const dec = new TextDecoder();
      const reader = (s as ReadableStream<Uint8Array>).getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) text += dec.decode(r.value, { stream: true });
    })();
  }
  const t0 = performance.now();
  for (;;) {
    const m = ready.exec(text);
    if (m) return { proc, out: () => text, match: m };
    if (proc.exitCode !== null) throw new Error(`${cmd.join(" ")} exited with ${proc.exitCode}:\n${text}`);
    if (performance.now() - t0 > 60_000) throw new Error(`${cmd.join(" ")} not ready in 60 s:\n${text}`);
    await Bun.sleep(10);
  }
}
async function stop(p: Proc | null) {
  if (!p || p.proc.exitCode !== null) return;
  p.proc.kill("SIGTERM");
  await p.proc.exited;
}

// ------------------------------------------------------------------------------------ setup

const dir = await mkdtemp(join(tmpdir(), "imgd-bench-"));
await chmod(dir, 0o755); // nginx's worker runs as nobody
const srcDir = join(dir, "src");
await mkdir(srcDir);
// A 12 MP photo: the fixture scaled to 3840 px wide (3840×3135).
const source = new Uint8Array(await sharp(FIXTURE).resize(3840).jpeg({ quality: 90 }).toBuffer());
const meta = await sharp(source).metadata();
/** The same photo with a few bytes after the end-of-image marker: another blob, another cache key. */
const copyOf = (k: number) => {
  const tail = new TextEncoder().encode(`copy ${k}`);
  const out = new Uint8Array(source.length + tail.length);
  out.set(source);
  out.set(tail, source.length);
  return out;
};
let nextCopy = 0;
const freshName = () => `p${nextCopy++}.jpg`;

const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), shared; ${new Date().toISOString().slice(0, 16)}Z`;
console.log(`imgd bench — ${machine}`);
console.log(
  `source: ${meta.width}×${meta.height} JPEG, ${(source.length / 1024).toFixed(0)} KiB; ${ROUNDS} alternating rounds`,
);

let imgd: (Proc & { base: string; key: string }) | null = null;
let ipx: (Proc & { base: string }) | null = null;
let nginx: Proc | null = null;

/** Admin keys by data dir: printed on a data dir's first start only. */
const adminKeys = new Map<string, string>();
async function startImgd(cmd: string[], dataDir: string, env: Record<string, string> = {}) {
  const p = await spawnUntil(
    [...cmd, "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir],
    /imgd listening on (http:\/\/\S+)/,
    env,
  );
  const printed = /Admin API key[^\n]*\n(imgsrc_\w+)/.exec(p.out())?.[1];
  if (printed) adminKeys.set(dataDir, printed);
  return { ...p, base: p.match[1]!, key: adminKeys.get(dataDir) ?? "" };
}
async function upload(base: string, key: string, name: string, bytes: Uint8Array) {
  const fd = new FormData();
  fd.append("file", new Blob([bytes as BlobPart], { type: "image/jpeg" }), name);
  const r = await fetch(`${base}/api/v1/images`, {
    method: "POST",
    body: fd,
    headers: { authorization: `Bearer ${key}` },
  });
  if (r.status !== 201) throw new Error(`upload ${name}: ${r.status} ${await r.text()}`);
}
/** A new source, known to imgd and on ipx's disk under the same name. */
async function newSource(): Promise<string> {
  const name = freshName();
  const bytes = copyOf(nextCopy);
  await writeFile(join(srcDir, name), bytes);
  if (imgd) await upload(imgd.base, imgd.key, name, bytes);
  return name;
}
const webpCheck = (status: number, body: ArrayBuffer) =>
  status === 200 && new TextDecoder().decode(new Uint8Array(body, 8, 4)) === "WEBP";

try {
  const imgdCmd = [process.execPath, join(ROOT, "src/main.ts")];
  imgd = await startImgd(imgdCmd, join(dir, "data"));
  ipx = await spawnUntil(["node", join(ROOT, "scripts/bench/ipx-server.mjs"), srcDir], /ipx on (http:\/\/\S+)/).then(
    (p) => ({ ...p, base: p.match[1]! }),
  );
  const imgdUrl = (name: string, w: number, ext = "webp") =>
    `${imgd!.base}/i/admin/${name.replace(/\.jpg$/, `.${ext}`)}?w=${w}&q=80`;
  const ipxUrl = (name: string, w: number) => `${ipx!.base}/w_${w},f_webp,q_80/${name}`;

  // One transform each before timing anything: first-request costs are not throughput.
  {
    const warm = await newSource();
    await fetch(imgdUrl(warm, 500)).then((r) => r.arrayBuffer());
    await fetch(ipxUrl(warm, 500)).then((r) => r.arrayBuffer());
  }

  // ------------------------------------------------------------------------------- cold
  if (ONLY.has("cold")) {
    for (const c of [2, 8]) {
      const n = c * 8;
      const a: LoadResult[] = [];
      const b: LoadResult[] = [];
      const ca: number[] = [];
      const cb: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        // A new source per round and side: widths 400–800, never asked before.
        const si = await newSource();
        const sp = await newSource();
        const widths = (i: number) => 400 + ((i * 37) % 401);
        const runImgd = () =>
          withCpu(imgd!.proc.pid, ca, () =>
            load((i) => imgdUrl(si, widths(i)), { concurrency: c, requests: n, check: webpCheck }),
          );
        const runIpx = () =>
          withCpu(ipx!.proc.pid, cb, () =>
            load((i) => ipxUrl(sp, widths(i)), { concurrency: c, requests: n, check: webpCheck }),
          );
        if (r % 2 === 0) {
          a.push(await runImgd());
          b.push(await runIpx());
        } else {
          b.push(await runIpx());
          a.push(await runImgd());
        }
      }
      const ir = median(a.map((x) => x.rps));
      const pr = median(b.map((x) => x.rps));
      const ip = median(a.map((x) => x.p99));
      const pp = median(b.map((x) => x.p99));
      const errors = a.reduce((s, x) => s + x.errors, 0) + b.reduce((s, x) => s + x.errors, 0);
      // CPU per transform: what a request costs, whatever share of a busy machine each server got.
      const ic = median(ca) / n;
      const pc = median(cb) / n;
      report(
        {
          row: `cold c=${c}`,
          imgd: { rps: ir, p99: ip, cpuMsPerRequest: ic },
          ipx: { rps: pr, p99: pp, cpuMsPerRequest: pc },
          rpsRatio: ir / pr,
          p99Ratio: ip / pp,
          cpuRatio: ic / pc,
          errors,
          requestsPerRound: n,
        },
        [
          `CPU per transform: imgd ${f0(ic)} ms, ipx ${f0(pc)} ms: ipx/imgd ${ratio(pc, ic)} (the req/s ratio an idle machine would give, all cores busy)`,
          `imgd ${f1(ir)} req/s, p99 ${f0(ip)} ms | ipx ${f1(pr)} req/s, p99 ${f0(pp)} ms | req/s ${ratio(ir, pr)} (goal ≥ 0.7×), p99 ${ratio(ip, pp)} (goal ≤ 1.5×)`,
          `${n} requests per round, median of ${ROUNDS}; errors ${errors}`,
        ],
      );
    }
  }

  // ------------------------------------------------------------------------------ cache
  if (ONLY.has("cache")) {
    const name = await newSource();
    const url = imgdUrl(name, 800);
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    await fetch(url); // now a hit, remembered on the hot path
    const nginxExe = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => Bun.file(p).size > 0);
    if (!nginxExe) {
      report({ row: "cache c=64", skipped: "nginx not installed (apt-get install nginx-light)" }, [
        "nginx is not installed: apt-get install nginx-light to measure this row",
      ]);
    } else {
      const www = join(dir, "www");
      await mkdir(www);
      await writeFile(join(www, "v.webp"), bytes);
      const port = await freePort();
      const conf = join(dir, "nginx.conf");
      await writeFile(
        conf,
        `worker_processes 1;\ndaemon off;\npid ${dir}/nginx.pid;\nerror_log stderr;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 1000000;\n  types { image/webp webp; }\n  server {\n    listen 127.0.0.1:${port};\n    root ${www};\n    location / { add_header Cache-Control "public, max-age=31536000, immutable"; }\n  }\n}\n`,
      );
      nginx = await spawnUntil([nginxExe, "-c", conf, "-p", dir, "-e", "stderr"], /^/);
      for (
        let i = 0;
        i < 100 &&
        !(await fetch(`http://127.0.0.1:${port}/v.webp`).then(
          (r) => r.ok,
          () => false,
        ));
        i++
      )
        await Bun.sleep(20);
      const nginxUrl = `http://127.0.0.1:${port}/v.webp`;
      const C = 64;
      const hit = async (u: string) =>
        (await wrk(u, SECONDS, C)) ?? (await load(() => u, { concurrency: C, seconds: SECONDS }));
      await hit(nginxUrl); // warm both
      await hit(url);
      const a: LoadResult[] = [];
      const b: LoadResult[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        if (r % 2 === 0) {
          a.push(await hit(url));
          b.push(await hit(nginxUrl));
        } else {
          b.push(await hit(nginxUrl));
          a.push(await hit(url));
        }
      }
      const ir = median(a.map((x) => x.rps));
      const pr = median(b.map((x) => x.rps));
      const ip = median(a.map((x) => x.p99));
      const pp = median(b.map((x) => x.p99));
      const client = Bun.which("wrk") ? "wrk -t1" : "fetch loop (install wrk for a lighter client)";
      report(
        {
          row: "cache c=64",
          bytes: bytes.length,
          client,
          imgd: { rps: ir, p99: ip },
          nginx: { rps: pr, p99: pp },
          rpsRatio: ir / pr,
          errors: [...a, ...b].reduce((s, x) => s + x.errors, 0),
        },
        [
          `imgd ${f0(ir)} req/s, p99 ${f1(ip)} ms | nginx (1 worker) ${f0(pr)} req/s, p99 ${f1(pp)} ms | ${ratio(ir, pr)} (goal ≥ 0.6×, p99 < 10 ms)`,
          `${bytes.length} B variant, ${SECONDS} s rounds, median of ${ROUNDS}; client: ${client}`,
        ],
      );
      await stop(nginx);
      nginx = null;
    }
  }

  // ------------------------------------------------------------------------------ srcset
  if (ONLY.has("srcset")) {
    const WIDTHS = [320, 640, 960, 1280];
    const burst = async (url: (name: string, w: number) => string, name: string, widths: number[]) => {
      const t = performance.now();
      const rs = await Promise.all(
        widths.map((w) => fetch(url(name, w)).then(async (r) => webpCheck(r.status, await r.arrayBuffer()))),
      );
      if (!rs.every(Boolean)) throw new Error("srcset burst: a request failed");
      return performance.now() - t;
    };
    const m = { imgd4: [] as number[], imgd1: [] as number[], ipx4: [] as number[], ipx1: [] as number[] };
    const cpu4: number[] = [];
    const cpu1: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const one = await newSource();
      const four = await newSource();
      m.imgd1.push(await withCpu(imgd!.proc.pid, cpu1, () => burst(imgdUrl, one, [1280])));
      m.imgd4.push(await withCpu(imgd!.proc.pid, cpu4, () => burst(imgdUrl, four, WIDTHS)));
      m.ipx1.push(await burst(ipxUrl, await newSource(), [1280]));
      m.ipx4.push(await burst(ipxUrl, await newSource(), WIDTHS));
    }
    const [i4, i1, p4, p1] = [median(m.imgd4), median(m.imgd1), median(m.ipx4), median(m.ipx1)];
    report(
      {
        row: "srcset burst",
        imgd: {
          burstMs: i4,
          oneMs: i1,
          ratio: i4 / i1,
          burstCpuMs: median(cpu4),
          oneCpuMs: median(cpu1),
          cpuRatio: median(cpu4) / median(cpu1),
        },
        ipx: { burstMs: p4, oneMs: p1, ratio: p4 / p1 },
      },
      [
        `imgd: 4 widths together ${f0(i4)} ms, 1280 alone ${f0(i1)} ms: ${ratio(i4, i1)} (goal ≤ 2×); CPU ${f0(median(cpu4))} vs ${f0(median(cpu1))} ms: ${ratio(median(cpu4), median(cpu1))}`,
        `ipx:  4 widths together ${f0(p4)} ms, 1280 alone ${f0(p1)} ms: ${ratio(p4, p1)}; imgd/ipx burst ${ratio(i4, p4)}`,
      ],
    );
  }
  await stop(ipx);
  ipx = null;

  // ----------------------------------------------------------------------------- avif
  if (ONLY.has("avif")) {
    // A fresh server for every round: the first AVIF meets a worker that has never encoded one.
    const imgdMs: number[] = [];
    const sharpMs: number[] = [];
    sharp.concurrency(1);
    for (let r = 0; r < ROUNDS; r++) {
      const name = await newSource();
      await stop(imgd);
      imgd = await startImgd(imgdCmd, join(dir, "data"), { IMGD_WORKERS: "1" });
      // Wait until the worker is warm so the row measures the encode, not the start-up.
      await fetch(imgdUrl(name, 64, "jpeg"));
      const t = performance.now();
      const res = await fetch(imgdUrl(name, 800, "avif"));
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`avif: ${res.status}`);
      imgdMs.push(performance.now() - t);
      const ts = performance.now();
      await sharp(copyOf(r)).resize(800).avif({ quality: 80, effort: AVIF_EFFORT }).toBuffer();
      sharpMs.push(performance.now() - ts);
    }
    const [im, sm] = [median(imgdMs), median(sharpMs)];
    report(
      { row: "first avif", effort: AVIF_EFFORT, imgdMs: im, sharpMs: sm, ratio: im / sm, all: { imgdMs, sharpMs } },
      [
        `imgd ${f0(im)} ms (fresh server, one worker, HTTP) | sharp ${f0(sm)} ms (in-process, one thread) | ${ratio(im, sm)}; q80, effort ${AVIF_EFFORT}; goal ≤ 1500 ms`,
      ],
    );
  }
  await stop(imgd);
  imgd = null;

  // --------------------------------------------------------------------------- startup
  if (ONLY.has("startup")) {
    const binary = join(ROOT, "dist/imgd");
    if (!(await stat(binary).catch(() => null))) {
      console.log("\n(building dist/imgd for the start-up row)");
      const { buildBinary } = await import("./build.ts");
      const b = await buildBinary({ outfile: binary });
      if (!b.ok) throw new Error(`build failed: ${b.error}`);
    }
    const exe = join(dir, "imgd");
    await copyFile(binary, exe);
    const dataDir = join(dir, "startup-data");
    // One start to create the admin and upload the sources the timed starts will ask for.
    const prep = await startImgd([exe], dataDir);
    const names: string[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const name = freshName();
      await upload(prep.base, prep.key, name, copyOf(1000 + r));
      names.push(name);
    }
    await stop(prep);
    const health: number[] = [];
    const first: number[] = [];
    for (const name of names) {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const t0 = performance.now();
      const p = Bun.spawn(
        [exe, "serve", "--host", "127.0.0.1", "--port", String(port), "--data-dir", dataDir, "--quiet"],
        { stdout: "ignore", stderr: "ignore" },
      );
      try {
        while (
          !(await fetch(`${base}/health`).then(
            (r) => r.ok,
            () => false,
          ))
        ) {
          if (performance.now() - t0 > 60_000) throw new Error("no /health within 60 s");
          await Bun.sleep(2);
        }
        health.push(performance.now() - t0);
        const res = await fetch(`${base}/i/admin/${name.replace(/\.jpg$/, ".webp")}?w=800&q=80`);
        if (!webpCheck(res.status, await res.arrayBuffer())) throw new Error(`first webp: ${res.status}`);
        first.push(performance.now() - t0);
      } finally {
        p.kill("SIGTERM");
        await p.exited;
      }
    }
    const [h, w] = [median(health), median(first)];
    report({ row: "startup (binary)", healthMs: h, firstWebpMs: w, all: { health, first } }, [
      `exec → first /health ${f0(h)} ms (goal < 300) | exec → first 800 px WebP ${f0(w)} ms (goal < 1000); median of ${ROUNDS}`,
    ]);
  }
} finally {
  await Promise.all([stop(imgd), stop(ipx), stop(nginx)]);
  await rm(dir, { recursive: true, force: true });
}

if (JSON_FILE) {
  await writeFile(
    JSON_FILE,
    `${JSON.stringify({ machine, date: new Date().toISOString(), rounds: ROUNDS, rows }, null, 2)}\n`,
  );
  console.log(`\nsaved ${JSON_FILE}`);
}
