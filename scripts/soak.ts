// Soak test (not in CI): a steady, open-loop mix of real traffic against one imgd for a long
// time, watching for errors and for memory or descriptors that grow.
//   uploads, cold deliveries (a new variant each), cached deliveries, lists, deletes, and
//   img.pro URL imports from a loopback image server on 127.0.0.2
// Every 5 s it samples the server's RSS and open file descriptors (/proc, Linux). At the end it
// prints the 5xx count, p99 latency per route group, and the RSS and FD slopes after warm-up
// (least squares over the samples past the first 20 % of the run).
// Usage: bun scripts/soak.ts [--duration 600] [--rate 20] [--workers 2] [--json out.json]
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import sharp from "sharp";

const ROOT = resolve(import.meta.dir, "..");
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const DURATION_S = Number(arg("duration", "600"));
const RATE = Number(arg("rate", "20"));
const WORKERS = arg("workers", "2");
const JSON_OUT = arg("json", "");
const MAX_IN_FLIGHT = 256;

/** A small, distinct JPEG per call: a gradient with the counter in its pixels. */
let made = 0;
async function newImage(): Promise<Uint8Array> {
  const n = made++;
  const w = 160 + (n % 97);
  const h = 120 + ((n * 7) % 61);
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      raw[i] = (x * 255) / w;
      raw[i + 1] = (y * 255) / h;
      raw[i + 2] = (n * 37 + x * y) & 255;
    }
  return new Uint8Array(
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } })
      .jpeg({ quality: 85 })
      .toBuffer(),
  );
}

// The loopback origin for imports, on 127.0.0.2 (imgd is told to allow exactly that address).
const origin: Uint8Array[] = [];
for (let i = 0; i < 8; i++) origin.push(await newImage());
const originServer = Bun.serve({
  hostname: "127.0.0.2",
  port: 0,
  fetch(req) {
    const m = /^\/img(\d+)\.jpg$/.exec(new URL(req.url).pathname);
    if (!m) return new Response("not found", { status: 404 });
    return new Response(origin[Number(m[1]) % origin.length] as BodyInit, {
      headers: { "content-type": "image/jpeg" },
    });
  },
});

const dataDir = await mkdtemp(join(tmpdir(), "imgd-soak-"));
const proc = Bun.spawn(
  [process.execPath, join(ROOT, "src/main.ts"), "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir],
  {
    env: { ...process.env, IMGD_WORKERS: WORKERS, IMGD_IMPORT_ALLOW_NETWORKS: "127.0.0.2/32" },
    stdout: "pipe",
    stderr: "pipe",
  },
);
let out = "";
const collect = async (s: ReadableStream<Uint8Array>) => {
  const dec = new TextDecoder();
  const reader = s.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) out += dec.decode(r.value, { stream: true });
};
void collect(proc.stdout);
void collect(proc.stderr);
while (!/imgd listening on (http:\/\/\S+)/.test(out)) {
  if (proc.exitCode !== null) throw new Error(`imgd exited:\n${out}`);
  await Bun.sleep(50);
}
const base = /imgd listening on (http:\/\/\S+)/.exec(out)![1];
const key = /Admin API key[^\n]*\n(imgsrc_\w+)/.exec(out)![1];
const auth = { authorization: `Bearer ${key}` };

// Library state the mix draws on.
const live: { id: string; path: string }[] = [];
let coldCounter = 0;
const pick = <T>(a: T[]) => a[Math.floor(Math.random() * a.length)];

type Op = { group: string; run: () => Promise<Response> };
const ops: [number, () => Op | null][] = [
  [
    10,
    () => ({
      group: "upload",
      run: async () => {
        const fd = new FormData();
        fd.append("file", new Blob([(await newImage()) as BlobPart], { type: "image/jpeg" }), `soak-${made}.jpg`);
        const res = await fetch(`${base}/api/v1/images`, { method: "POST", headers: auth, body: fd });
        if (res.status === 201) {
          const b = (await res.clone().json()) as any;
          live.push({ id: b.id, path: b.paths[0] });
        }
        return res;
      },
    }),
  ],
  [
    15,
    () => {
      const img = pick(live);
      return img
        ? {
            group: "delivery-cold",
            run: () => fetch(`${base}/i/admin/${img.path.replace(/\.\w+$/, ".webp")}?w=${16 + (coldCounter++ % 600)}`),
          }
        : null;
    },
  ],
  [
    40,
    () => {
      const img = live[0] && live[Math.floor(Math.random() * Math.min(live.length, 20))];
      return img
        ? { group: "delivery-cached", run: () => fetch(`${base}/i/admin/${img.path.replace(/\.\w+$/, ".webp")}?w=100`) }
        : null;
    },
  ],
  [15, () => ({ group: "list", run: () => fetch(`${base}/api/v1/images?limit=50`, { headers: auth }) })],
  [
    8,
    () => {
      if (live.length < 40) return null;
      // Not one of the first 20: those are the cached set.
      const i = 20 + Math.floor(Math.random() * (live.length - 20));
      const [img] = live.splice(i, 1);
      return {
        group: "delete",
        run: () => fetch(`${base}/api/v1/images/${img.id}`, { method: "DELETE", headers: auth }),
      };
    },
  ],
  [
    7,
    () => ({
      group: "import",
      run: async () => {
        const res = await fetch(`${base}/v1/import`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({
            url: `http://127.0.0.2:${originServer.port}/img${Math.floor(Math.random() * 1000)}.jpg`,
          }),
        });
        return res;
      },
    }),
  ],
];
const totalWeight = ops.reduce((a, [w]) => a + w, 0);
function nextOp(): Op {
  for (;;) {
    let r = Math.random() * totalWeight;
    for (const [w, make] of ops) {
      if ((r -= w) > 0) continue;
      const op = make();
      if (op) return op;
      break;
    }
    if (live.length === 0) return ops[0][1]()!;
  }
}

const latencies = new Map<string, number[]>();
const statuses = new Map<string, Map<number, number>>();
let fiveXX = 0;
let failures = 0;
let dropped = 0;
let inFlight = 0;
async function fire() {
  if (inFlight >= MAX_IN_FLIGHT) {
    dropped++;
    return;
  }
  const op = nextOp();
  inFlight++;
  const t = performance.now();
  try {
    const res = await op.run();
    await res.arrayBuffer();
    const ms = performance.now() - t;
    if (!latencies.has(op.group)) latencies.set(op.group, []);
    latencies.get(op.group)!.push(ms);
    const byStatus = statuses.get(op.group) ?? new Map<number, number>();
    statuses.set(op.group, byStatus);
    byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
    if (res.status >= 500) fiveXX++;
  } catch {
    failures++;
  } finally {
    inFlight--;
  }
}

async function sample() {
  const status = await readFile(`/proc/${proc.pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const fds = (await readdir(`/proc/${proc.pid}/fd`)).length;
  return { t: (performance.now() - start) / 1000, rssMb: rssKb / 1024, fds };
}

/** Least-squares slope of y over t (per minute). */
function slopePerMinute(points: { t: number; y: number }[]) {
  const n = points.length;
  if (n < 2) return 0;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const num = points.reduce((a, p) => a + (p.t - mt) * (p.y - my), 0);
  const den = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60;
}
const p = (a: number[], q: number) => (a.length ? a[Math.min(a.length - 1, Math.floor(q * a.length))] : 0);

const start = performance.now();
const samples: { t: number; rssMb: number; fds: number }[] = [await sample()];
const sampler = setInterval(async () => {
  const s = await sample();
  samples.push(s);
  const sent = [...latencies.values()].reduce((a, l) => a + l.length, 0);
  console.error(
    `t=${s.t.toFixed(0)}s rss=${s.rssMb.toFixed(1)}MB fds=${s.fds} done=${sent} 5xx=${fiveXX} failed=${failures} in-flight=${inFlight} images=${live.length}`,
  );
}, 5000);

const interval = 1000 / RATE;
const pending = new Set<Promise<void>>();
for (let i = 0; ; i++) {
  const due = start + i * interval;
  if (due - start > DURATION_S * 1000) break;
  const wait = due - performance.now();
  if (wait > 0) await Bun.sleep(wait);
  const f = fire();
  pending.add(f);
  void f.finally(() => pending.delete(f));
}
await Promise.all(pending);
clearInterval(sampler);
samples.push(await sample());

const warm = samples.filter((s) => s.t >= DURATION_S * 0.2);
const report = {
  duration_s: DURATION_S,
  rate_per_s: RATE,
  workers: Number(WORKERS),
  requests: [...latencies.values()].reduce((a, l) => a + l.length, 0),
  five_xx: fiveXX,
  failed_requests: failures,
  dropped_over_in_flight_cap: dropped,
  groups: Object.fromEntries(
    [...latencies.entries()].map(([g, l]) => {
      l.sort((a, b) => a - b);
      return [
        g,
        {
          n: l.length,
          p50_ms: Math.round(p(l, 0.5)),
          p99_ms: Math.round(p(l, 0.99)),
          max_ms: Math.round(l.at(-1) ?? 0),
          statuses: Object.fromEntries(statuses.get(g) ?? []),
        },
      ];
    }),
  ),
  rss_mb: {
    start: samples[0].rssMb,
    after_warmup: warm[0]?.rssMb,
    end: samples.at(-1)!.rssMb,
    max: Math.max(...samples.map((s) => s.rssMb)),
    slope_mb_per_min_after_warmup: slopePerMinute(warm.map((s) => ({ t: s.t, y: s.rssMb }))),
  },
  fds: {
    start: samples[0].fds,
    end: samples.at(-1)!.fds,
    max: Math.max(...samples.map((s) => s.fds)),
    slope_per_min_after_warmup: slopePerMinute(warm.map((s) => ({ t: s.t, y: s.fds }))),
  },
  samples: samples.length,
};
console.log(JSON.stringify(report, null, 2));
if (JSON_OUT) await Bun.write(JSON_OUT, JSON.stringify({ ...report, samples }, null, 2));

proc.kill("SIGTERM");
await proc.exited;
originServer.stop(true);
await rm(dataDir, { recursive: true, force: true });
