// Two tenants on one server under anonymous load (issue 23): 50 anonymous clients, each from
// its own address, ask random widths of tenant A's image (every new width a transform) while
// tenant B's visitors ask for B's variants, made before the load began. B's answers should stay
// cache hits and fast; prints both tenants' latencies (p50, p99), what A's clients were
// answered (made, refused by IMGD_MISS_RATE or the cost cap) and how many variants were made.
//
// Not run in CI and not timed by any test. Starts its own server (temp data dir, 127.0.0.1;
// loopback is named in IMGD_TRUST_PROXY so X-Forwarded-For gives each client its address, which
// are documentation addresses that only ever appear in that header). Bounded: at most
// --requests per client and --seconds in all, then it stops the server and exits.
// Usage: bun scripts/load-tenants.ts [--clients 50] [--requests 40] [--seconds 60] [--miss-rate 120/min]
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
};
const CLIENTS = Number(arg("clients", "50"));
const REQUESTS = Number(arg("requests", "40"));
const SECONDS = Number(arg("seconds", "60"));
const MISS_RATE = arg("miss-rate", "120/min");
const B_VARIANTS = [160, 320, 480, 640, 800];

const dataDir = await mkdtemp(join(tmpdir(), "imgd-load-"));
const proc = Bun.spawn(
  [process.execPath, join(ROOT, "src/main.ts"), "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir],
  {
    env: {
      ...process.env,
      IMGD_REGISTRATION: "open",
      IMGD_TRUST_PROXY: "127.0.0.1/32",
      IMGD_MISS_RATE: MISS_RATE,
      IMGD_QUIET: "false",
    },
    stdout: "pipe",
    stderr: "inherit",
  },
);
// Whatever happens below, the server stops and its data goes.
const deadline = setTimeout(() => void finish(1, "time limit reached before the run ended"), (SECONDS + 120) * 1000);
async function finish(code: number, why?: string) {
  if (why) console.error(why);
  clearTimeout(deadline);
  proc.kill();
  await proc.exited;
  await rm(dataDir, { recursive: true, force: true });
  process.exit(code);
}

try {
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
  const url = /imgd listening on (http:\/\/\S+)/.exec(out)![1]!;
  const adminKey = /Admin API key[^\n]*\n(imgsrc_\w+)/.exec(out)![1]!;

  const api = (path: string, key: string, init: RequestInit = {}) =>
    fetch(url + path, { ...init, headers: { authorization: `Bearer ${key}`, ...(init.headers ?? {}) } });
  async function tenant(email: string): Promise<{ key: string; username: string }> {
    const r = await fetch(`${url}/v1/keys`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email }),
    });
    if (r.status !== 201) throw new Error(`POST /v1/keys: ${r.status} ${await r.text()}`);
    const { key } = (await r.json()) as { key: string };
    const p = await api(`/api/v1/admin/users/${encodeURIComponent(email)}`, adminKey, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ plan: "unlimited", verified: true }),
    });
    if (p.status !== 200) throw new Error(`PATCH user: ${p.status} ${await p.text()}`);
    return { key, username: ((await p.json()) as { username: string }).username };
  }
  async function upload(key: string, name: string, bytes: Uint8Array) {
    const body = new FormData();
    body.append("file", new Blob([bytes as BlobPart], { type: "image/jpeg" }), name);
    const r = await api("/api/v1/images", key, { method: "POST", body });
    if (r.status !== 201) throw new Error(`upload: ${r.status} ${await r.text()}`);
  }

  const a = await tenant("tenant-a@example.com");
  const b = await tenant("tenant-b@example.com");
  const photo = new Uint8Array(await readFile(join(ROOT, "test/fixtures/flowers.jpeg")));
  await upload(a.key, "a.jpg", photo);
  await upload(b.key, "b.jpg", photo);
  const bUrls = B_VARIANTS.map((w) => `${url}/i/${b.username}/b.jpg?w=${w}`);
  for (const u of bUrls) {
    const r = await fetch(u);
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`B's variant ${u}: ${r.status}`);
  }

  const aLatency: number[] = [];
  const bLatency: number[] = [];
  const aStatus = new Map<string, number>();
  const bCache = new Map<string, number>();
  const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const abort = AbortSignal.timeout(SECONDS * 1000);
  let running = true;

  const anonymous = Array.from({ length: CLIENTS }, async (_, i) => {
    const address = `198.51.100.${i + 1}`;
    for (let n = 0; n < REQUESTS && !abort.aborted; n++) {
      const w = 100 + Math.floor(Math.random() * 1800);
      const t = performance.now();
      try {
        const r = await fetch(`${url}/i/${a.username}/a.jpg?w=${w}`, {
          headers: { "x-forwarded-for": address },
          signal: abort,
        });
        await r.arrayBuffer();
        aLatency.push(performance.now() - t);
        count(aStatus, r.status === 200 ? `200 ${r.headers.get("x-cache")}` : String(r.status));
      } catch {
        count(aStatus, abort.aborted ? "cut at the time limit" : "failed");
      }
    }
  });
  // B's visitors: one request at a time, round the cached variants, while A's load lasts.
  const visitors = Array.from({ length: 2 }, async (_, i) => {
    for (let n = i; running && !abort.aborted; n++) {
      const t = performance.now();
      try {
        const r = await fetch(bUrls[n % bUrls.length]!, { signal: abort });
        await r.arrayBuffer();
        bLatency.push(performance.now() - t);
        count(bCache, r.status === 200 ? (r.headers.get("x-cache") ?? "?") : String(r.status));
      } catch {
        if (!abort.aborted) count(bCache, "failed");
      }
    }
  });
  const started = performance.now();
  await Promise.all(anonymous);
  running = false;
  await Promise.all(visitors);
  const elapsed = (performance.now() - started) / 1000;

  const metrics = await (await api("/metrics", adminKey)).text();
  const metric = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(metrics)?.[1] ?? NaN);
  const pct = (xs: number[], p: number) => {
    const s = [...xs].sort((x, y) => x - y);
    return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * p))]!.toFixed(1) : "-";
  };
  const list = (m: Map<string, number>) => [...m].map(([k, v]) => `${k}: ${v}`).join(", ");
  console.log(
    `load-tenants: ${CLIENTS} anonymous clients × up to ${REQUESTS} random widths of A's image, IMGD_MISS_RATE=${MISS_RATE}, ${elapsed.toFixed(1)} s`,
  );
  console.log(
    `tenant A (anonymous): ${aLatency.length} answers, p50 ${pct(aLatency, 0.5)} ms, p99 ${pct(aLatency, 0.99)} ms; ${list(aStatus)}`,
  );
  console.log(
    `tenant B (cached):    ${bLatency.length} answers, p50 ${pct(bLatency, 0.5)} ms, p99 ${pct(bLatency, 0.99)} ms; ${list(bCache)}`,
  );
  const made = [...metrics.matchAll(/^imgd_transform_duration_seconds_count(?:\{[^}]*\})? (\S+)$/gm)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
  console.log(
    `variants made: ${made} (${B_VARIANTS.length} of them B's, before the load); ` +
      `${metric("imgd_variant_cache_entries")} in the cache, ${metric("imgd_variant_cache_evictions_total")} evicted`,
  );
  await finish(0);
} catch (err) {
  await finish(1, err instanceof Error ? (err.stack ?? err.message) : String(err));
}
