// Throughput of one imgd node and of two nodes on one PostgreSQL and one storage (a shared data
// directory), clients spread over the nodes round-robin:
//   cached: every request the same stored variant;
//   cold:   every request a new variant (a transform each) of a 2-megapixel JPEG.
// Needs PostgreSQL at IMGD_TEST_POSTGRES_URL (default: the one .ci/run starts); each run gets a
// fresh database, dropped afterwards.
// Usage: bun scripts/bench-cluster.ts [--seconds 5] [--concurrency 32] [--cold 24] [--workers 1]
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import sharp from "sharp";
import { createTestDatabase } from "../test/helpers/postgres.ts";

const ROOT = resolve(import.meta.dir, "..");
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SECONDS = arg("seconds", 5);
const CONCURRENCY = arg("concurrency", 32);
const COLD = arg("cold", 24);
const WORKERS = arg("workers", 1);

interface Node {
  url: string;
  key: string;
  proc: ReturnType<typeof Bun.spawn>;
}

async function startNode(env: Record<string, string>, dataDir: string): Promise<Node> {
  const proc = Bun.spawn(
    [process.execPath, join(ROOT, "src/main.ts"), "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir],
    { env: { ...process.env, IMGD_WORKERS: String(WORKERS), ...env }, stdout: "pipe", stderr: "inherit" },
  );
  let out = "";
  const reader = proc.stdout.getReader();
  const dec = new TextDecoder();
  while (!/imgd listening on (http:\/\/\S+)/.test(out)) {
    const r = await reader.read();
    if (r.done) throw new Error(`imgd exited:\n${out}`);
    out += dec.decode(r.value);
  }
  void (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read());
  })();
  return {
    url: /imgd listening on (http:\/\/\S+)/.exec(out)![1],
    key: /Admin API key[^\n]*\n(imgsrc_\w+)/.exec(out)?.[1] ?? "",
    proc,
  };
}

/** Closed loop: `concurrency` clients, each sending its next request when the last ends. */
async function load(next: () => string | null, concurrency: number, seconds = Infinity) {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let url = next(); url && performance.now() < end; url = next()) {
        const t = performance.now();
        try {
          const res = await fetch(url);
          await res.arrayBuffer();
          if (res.status !== 200) errors++;
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / elapsed,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    n: latencies.length,
    errors,
  };
}

async function run(nodes: number) {
  const db = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), "imgd-bench-cluster-"));
  const env = { IMGD_DATABASE_URL: db.url, IMGD_ACCESS_LOG: "off", IMGD_QUEUE_LIMIT: "1000" };
  const started: Node[] = [];
  try {
    started.push(await startNode(env, dataDir));
    for (let i = 1; i < nodes; i++) started.push(await startNode(env, dataDir));
    const key = started[0].key;
    const raw = Buffer.alloc(1600 * 1200 * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 7) & 255;
    const jpeg = await sharp(raw, { raw: { width: 1600, height: 1200, channels: 3 } })
      .jpeg()
      .toBuffer();
    const fd = new FormData();
    fd.append("file", new Blob([jpeg], { type: "image/jpeg" }), "bench.jpg");
    const up = await fetch(`${started[0].url}/api/v1/images`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}` },
      body: fd,
    });
    if (up.status !== 201) throw new Error(`upload: ${up.status} ${await up.text()}`);
    let i = 0;
    const node = () => started[i++ % started.length].url;
    // Warm: the cached variant exists, and each node has met it.
    for (const n of started) await (await fetch(`${n.url}/i/admin/bench.webp?w=320`)).arrayBuffer();
    const cached = await load(() => `${node()}/i/admin/bench.webp?w=320`, CONCURRENCY, SECONDS);
    let w = 0;
    const cold = await load(
      () => (w < COLD ? `${node()}/i/admin/bench.webp?w=${400 + w++}` : null),
      Math.max(2, started.length * WORKERS * 2),
    );
    return { cached, cold };
  } finally {
    for (const n of started) n.proc.kill();
    await Promise.all(started.map((n) => n.proc.exited));
    await db.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

console.log(
  `imgd on PostgreSQL, ${WORKERS} worker(s) per node; cached: ${SECONDS} s at concurrency ${CONCURRENCY}; cold: ${COLD} new variants (1600×1200 JPEG → WebP)`,
);
console.log("nodes  cached req/s  cached p99 ms  cold variants/s  cold p99 ms  errors");
for (const nodes of [1, 2]) {
  const r = await run(nodes);
  console.log(
    `${String(nodes).padEnd(5)}  ${r.cached.rps.toFixed(0).padStart(12)}  ${r.cached.p99.toFixed(1).padStart(13)}  ${r.cold.rps.toFixed(2).padStart(15)}  ${r.cold.p99.toFixed(0).padStart(11)}  ${r.cached.errors + r.cold.errors}`,
  );
}
