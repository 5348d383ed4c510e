import { decode, makeImage } from "../helpers/images.ts";
import { form, type TestServer } from "../helpers/server.ts";
import { type Cluster, nodeAlive } from "./cluster.ts";

// The fault scenarios: load from four clients through two nodes while a dependency fails, and
// what every answer must be. The tests (test/faults/*.test.ts) run them for a few seconds;
// scripts/chaos.ts runs them for longer.

export interface Report {
  /** Answers that must never happen (a wrong 2xx, a 500, a lost upload…), each said once. */
  violations: string[];
  counts: Record<string, number>;
  /** Milliseconds from the dependency's return to the first upload acknowledged on each node. */
  recoveryMs?: number[];
  /** Milliseconds per answer of the probes that must not stall (slow S3). */
  latencies?: Record<string, number[]>;
}

interface Acked {
  id: string;
  path: string;
  bytes: Uint8Array;
}

const seq = { n: 0 };

/** Distinct small images (each upload's content differs, so every one is a new blob). */
async function images(n: number): Promise<Uint8Array[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => makeImage(48 + i, 36 + (i % 7), i % 2 ? "png" : "jpg")));
}

class Recorder {
  violations = new Set<string>();
  counts: Record<string, number> = {};
  acked: Acked[] = [];
  variants = new Map<string, Uint8Array>();
  count(what: string) {
    this.counts[what] = (this.counts[what] ?? 0) + 1;
  }
  violate(what: string) {
    this.violations.add(what);
  }
}

const VARIANT = "?w=32";

async function oneUpload(node: TestServer, key: string, bytes: Uint8Array, rec: Recorder, tag: string) {
  const path = `load/${tag}-${seq.n++}.${bytes[0] === 0x89 ? "png" : "jpg"}`;
  let res: Response;
  try {
    res = await fetch(`${node.url}/api/v1/images`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}` },
      body: form({ file: { bytes, filename: path.split("/").pop()! }, target_path: path }),
    });
  } catch (err) {
    rec.violate(`upload: no answer (${(err as Error).message})`);
    return false;
  }
  const text = await res.text().catch(() => "");
  rec.count(`upload ${res.status}`);
  if (res.status === 201) {
    rec.acked.push({ id: (JSON.parse(text) as { id: string }).id, path, bytes });
    return true;
  }
  if (res.status === 503) {
    if (!res.headers.get("retry-after")) rec.violate("upload: 503 without Retry-After");
    if (!text.includes("SERVICE_UNAVAILABLE")) rec.violate(`upload: 503 not in the native error shape: ${text}`);
  } else rec.violate(`upload: ${res.status} ${text.slice(0, 200)}`);
  return false;
}

/** GETs an acknowledged image or its variant and checks that a 2xx carries exactly the right bytes. */
async function oneGet(node: TestServer, item: Acked, variant: boolean, rec: Recorder) {
  const url = `${node.url}/i/admin/${item.path}${variant ? VARIANT : ""}`;
  const what = variant ? "variant" : "original";
  let res: Response;
  let body: Uint8Array;
  try {
    res = await fetch(url);
    body = new Uint8Array(await res.arrayBuffer());
  } catch {
    // A source that failed mid-stream: the connection is cut, no client takes it as complete.
    rec.count(`${what} aborted`);
    return;
  }
  rec.count(`${what} ${res.status}`);
  if (res.status === 503) {
    if (!res.headers.get("retry-after")) rec.violate(`${what}: 503 without Retry-After`);
    return;
  }
  if (res.status !== 200) {
    rec.violate(`${what}: ${res.status} for an acknowledged image`);
    return;
  }
  const length = res.headers.get("content-length");
  if (length !== null && Number(length) !== body.byteLength)
    rec.violate(`${what}: Content-Length ${length} but ${body.byteLength} bytes`);
  if (!variant) {
    if (!Buffer.from(body).equals(Buffer.from(item.bytes)))
      rec.violate(`original: 200 with ${body.byteLength} bytes, not the ${item.bytes.byteLength} uploaded`);
    return;
  }
  const seen = rec.variants.get(url.slice(url.indexOf("/i/")));
  if (seen) {
    if (!Buffer.from(seen).equals(Buffer.from(body)))
      rec.violate(`variant: 200 with ${body.byteLength} bytes, not the ${seen.byteLength} served before`);
    return;
  }
  try {
    const img = await decode(body);
    if (img.width !== 32) rec.violate(`variant: ${img.width} px wide, not 32`);
    else rec.variants.set(url.slice(url.indexOf("/i/")), body);
  } catch {
    rec.violate(`variant: 200 with ${body.byteLength} bytes that do not decode`);
  }
}

/** Four clients through both nodes until `stop()`: uploads, originals and variants of what was acknowledged. */
async function load(c: Cluster, rec: Recorder, stop: () => boolean, pool: Uint8Array[]) {
  await Promise.all(
    Array.from({ length: 4 }, async (_, client) => {
      for (let i = 0; !stop(); i++) {
        const node = c.nodes[(client + i) % 2];
        const r = Math.random();
        if (r < 0.3 || rec.acked.length < 2) {
          await oneUpload(node, c.key, pool[(client * 997 + i) % pool.length], rec, `c${client}`);
        } else {
          const item = rec.acked[Math.floor(Math.random() * rec.acked.length)];
          await oneGet(node, item, r > 0.65, rec);
        }
        // Bounded: a refused request must not become a busy loop.
        await Bun.sleep(5);
      }
    }),
  );
}

/** Every node runs, every acknowledged upload is there byte for byte, bucket and database agree. */
async function settle(c: Cluster, rec: Recorder) {
  for (const [i, node] of c.nodes.entries()) {
    if (!(await nodeAlive(node))) rec.violate(`node ${"AB"[i]} is gone:\n${node.output().slice(-2000)}`);
  }
  if (rec.violations.size) return;
  for (const item of rec.acked) {
    const res = await fetch(`${c.nodes[1].url}/i/admin/${item.path}`);
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200 || !Buffer.from(body).equals(Buffer.from(item.bytes)))
      rec.violate(`acknowledged ${item.path} lost: ${res.status}, ${body.byteLength} bytes`);
  }
  // The periodic sweep (IMGD_SWEEP_INTERVAL_MS, IMGD_STORAGE_SWEEP_AGE_MS short here) removes
  // what the fault left behind; the bucket and the database must then agree.
  let problems: string[] = [];
  // Bounded by attempts: the sweep's age (8 s in the tests) and interval, with room to spare.
  for (let attempt = 0; attempt < 80; attempt++) {
    problems = await disagreements(c);
    if (problems.length === 0) break;
    await Bun.sleep(500);
  }
  for (const p of problems) rec.violate(p);
}

export async function disagreements(c: Cluster): Promise<string[]> {
  const objects = await c.objects();
  const blobRows = new Set((await c.pg.query<{ hash: string }>("select hash from blobs")).map((r) => r.hash));
  const blobObjects = new Set(
    objects.filter((k) => k.startsWith("blobs/")).map((k) => k.slice(k.lastIndexOf("/") + 1)),
  );
  const out: string[] = [];
  for (const h of blobRows) if (!blobObjects.has(h)) out.push(`blob row ${h} without its object`);
  for (const h of blobObjects) if (!blobRows.has(h)) out.push(`blob object ${h} without a row`);
  for (const k of objects) if (k.startsWith("tmp/")) out.push(`leftover ${k}`);
  const variantRows = await c.pg.query<{ key: string }>("select key from variants");
  const variantObjects = new Set(objects.filter((k) => k.startsWith("variants/")));
  for (const { key } of variantRows)
    if (![...variantObjects].some((o) => o.endsWith(key))) out.push(`variant row ${key} without its object`);
  return out;
}

function report(rec: Recorder, extra: Partial<Report> = {}): Report {
  return { violations: [...rec.violations], counts: rec.counts, ...extra };
}

/** Uploads on each node until one is acknowledged; the milliseconds it took from now. */
async function recovery(c: Cluster, rec: Recorder, pool: Uint8Array[]): Promise<number[]> {
  const started = performance.now();
  return Promise.all(
    c.nodes.map(async (node, i) => {
      for (let n = 0; n < 400; n++) {
        if (await oneUpload(node, c.key, pool[(n + i * 13) % pool.length], rec, `r${i}`))
          return performance.now() - started;
        await Bun.sleep(25);
      }
      rec.violate(`node ${"AB"[i]} acknowledged no upload after the dependency came back`);
      return Number.POSITIVE_INFINITY;
    }),
  );
}

/** One upload on each node first: the codec workers are warm before the clock of any fault runs. */
async function warmUp(c: Cluster, rec: Recorder) {
  for (const [i, node] of c.nodes.entries())
    await oneUpload(node, c.key, await makeImage(30 + i, 20, "png"), rec, `warm${i}`);
}

/** A fast stop of PostgreSQL during load, `downMs` without it, then a start. */
export async function postgresRestart(c: Cluster, seconds: number, downMs = 3000): Promise<Report> {
  const rec = new Recorder();
  const pool = await images(24);
  const [a, b] = c.nodes;
  await warmUp(c, rec);
  // B remembers an answer (its hot path) that A will invalidate around the restart.
  const gone = await oneUpload(a, c.key, await makeImage(90, 60, "png"), rec, "gone");
  const goneItem = rec.acked.pop()!;
  if (!gone) return report(rec);
  for (let i = 0; i < 3; i++) await oneGet(b, goneItem, true, rec);

  let stopped = false;
  const running = load(c, rec, () => stopped, pool);
  await Bun.sleep((seconds * 1000) / 4);
  // During the outage: memory-cached answers still come, the rest is 503 (checked by load).
  await c.pg.stop();
  const during = new Recorder();
  await Bun.sleep(downMs / 2);
  for (const node of c.nodes) {
    const ready = await fetch(`${node.url}/ready`).catch(() => null);
    if (ready?.status !== 503) rec.violate(`/ready answered ${ready?.status} without the database`);
    const health = await fetch(`${node.url}/health`).catch(() => null);
    if (health?.status !== 200) rec.violate(`/health answered ${health?.status} without the database`);
    const list = await fetch(`${node.url}/api/v1/images`, { headers: { authorization: `Bearer ${c.key}` } }).catch(
      () => null,
    );
    if (list?.status !== 503 || !list.headers.get("retry-after"))
      rec.violate(`the image list answered ${list?.status} without the database`);
  }
  await Bun.sleep(downMs / 2);
  await c.pg.start();
  // Sent as soon as the database is back, likely before B's listener has reconnected: B must
  // hear of it (the notice, or the catch-up after its reconnect) and stop serving the image.
  let deleted = false;
  for (let i = 0; i < 200 && !deleted; i++) {
    const res = await fetch(`${a.url}/api/v1/images/${goneItem.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${c.key}` },
    }).catch(() => null);
    deleted = res?.status === 200;
    if (!deleted) await Bun.sleep(20);
  }
  if (!deleted) rec.violate("could not delete an image after the database came back");
  const recoveryMs = await recovery(c, rec, pool);
  let status = 0;
  for (let i = 0; i < 100 && status !== 404; i++) {
    status = (await fetch(`${b.url}/i/admin/${goneItem.path}${VARIANT}`)).status;
    if (status !== 404) await Bun.sleep(50);
  }
  if (status !== 404) rec.violate(`B still serves an image deleted on A after the restart (${status})`);
  await Bun.sleep((seconds * 1000) / 4);
  stopped = true;
  await running;
  for (const [k, v] of Object.entries(during.counts)) rec.counts[k] = (rec.counts[k] ?? 0) + v;
  await settle(c, rec);
  return report(rec, { recoveryMs });
}

/** s3rver killed during load, `downMs` without it, then started again on the same port. */
export async function s3Outage(c: Cluster, seconds: number, downMs = 3000): Promise<Report> {
  const rec = new Recorder();
  const pool = await images(24);
  await warmUp(c, rec);
  let stopped = false;
  const running = load(c, rec, () => stopped, pool);
  await Bun.sleep((seconds * 1000) / 4);
  await c.s3.kill();
  await Bun.sleep(downMs / 2);
  for (const node of c.nodes) {
    const ready = await fetch(`${node.url}/ready`).catch(() => null);
    if (ready?.status !== 503) rec.violate(`/ready answered ${ready?.status} without the storage`);
    const health = await fetch(`${node.url}/health`).catch(() => null);
    if (health?.status !== 200) rec.violate(`/health answered ${health?.status} without the storage`);
  }
  await Bun.sleep(downMs / 2);
  await c.s3.start();
  const recoveryMs = await recovery(c, rec, pool);
  await Bun.sleep((seconds * 1000) / 4);
  stopped = true;
  await running;
  if (!rec.counts["original 200"] || !rec.counts["variant 200"]) rec.violate("the load fetched nothing");
  await settle(c, rec);
  return report(rec, { recoveryMs });
}

/**
 * Every S3 answer held for `delayMs` while clients upload: unrelated requests on the same node
 * (a memory-cached variant, the image list) keep answering, and no database session waits on
 * a lock (or sits in a transaction) while an upload waits on S3.
 */
export async function slowS3(c: Cluster, seconds: number, delayMs = 2000): Promise<Report> {
  const rec = new Recorder();
  const proxy = c.proxy!;
  const [a] = c.nodes;
  const pool = await images(24);
  await warmUp(c, rec);
  // A variant in A's memory: made, then asked again (served from memory from then on).
  await oneUpload(a, c.key, await makeImage(120, 80, "jpg"), rec, "hot");
  const hot = rec.acked.at(-1)!;
  for (let i = 0; i < 3; i++) await oneGet(a, hot, true, rec);

  const doomed: Acked[] = [];
  for (let n = 0; n < 6; n++) {
    if (await oneUpload(c.nodes[n % 2], c.key, await makeImage(150 + n, 50, "png"), rec, "del"))
      doomed.push(rec.acked.pop()!);
  }

  proxy.delayMs = delayMs;
  let stopped = false;
  let uploadsInFlight = 0;
  let uploadsDone = 0;
  const uploads = Promise.all(
    Array.from({ length: 4 }, async (_, client) => {
      for (let i = 0; !stopped; i++) {
        uploadsInFlight++;
        // Same content from every client: all of them need the same blob's lock.
        await oneUpload(c.nodes[i % 2], c.key, pool[i % pool.length], rec, `s${client}`);
        uploadsInFlight--;
        uploadsDone++;
      }
    }),
  );
  // Deletions beside them, on the other node: each image has content of its own, so its blob
  // leaves the store (after the deletion's transaction, not inside it).
  const deletions = (async () => {
    for (const [n, item] of doomed.entries()) {
      if (stopped) return;
      const res = await fetch(`${c.nodes[(n + 1) % 2].url}/api/v1/images/${item.id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${c.key}` },
      });
      rec.count(`delete ${res.status}`);
      if (res.status !== 200) rec.violate(`delete: ${res.status} ${await res.text()}`);
    }
  })();
  const latencies: Record<string, number[]> = { "memory variant": [], "image list": [] };
  const waits: string[] = [];
  const ends = performance.now() + seconds * 1000;
  // Once uploads are waiting on S3.
  await Bun.sleep(Math.min(delayMs / 2, 500));
  while (performance.now() < ends) {
    const doneBefore = uploadsDone;
    let t = performance.now();
    const v = await fetch(`${a.url}/i/admin/${hot.path}${VARIANT}`);
    await v.arrayBuffer();
    latencies["memory variant"].push(performance.now() - t);
    if (v.status !== 200 || v.headers.get("x-cache") !== "HIT")
      rec.violate(`memory variant: ${v.status} ${v.headers.get("x-cache")}`);
    t = performance.now();
    const l = await fetch(`${a.url}/api/v1/images?limit=5`, { headers: { authorization: `Bearer ${c.key}` } });
    await l.arrayBuffer();
    latencies["image list"].push(performance.now() - t);
    if (l.status !== 200) rec.violate(`image list: ${l.status}`);
    // Both answered while uploads were still waiting on S3: nothing made them wait for one.
    if (uploadsDone - doneBefore > 0 && uploadsInFlight === 4) rec.count("probes overtaken");
    const sessions = await c.pg.query<{ state: string; wait: string | null; query: string }>(
      // Held for a while, not caught between two statements of a short transaction: a lock or a
      // transaction held across a 2 s S3 call lasts far longer than this.
      "select state, wait_event as wait, query from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend' and now() - state_change > interval '250 milliseconds'",
    );
    for (const s of sessions) {
      if (s.wait === "advisory") waits.push(`a session waits on an advisory lock: ${s.query}`);
      if (s.state === "idle in transaction") waits.push(`a session is idle in a transaction: ${s.query}`);
    }
    await Bun.sleep(100);
  }
  stopped = true;
  proxy.delayMs = 0;
  await uploads;
  await deletions;
  for (const w of new Set(waits)) rec.violate(w);
  if (!rec.counts["upload 201"]) rec.violate("no upload was acknowledged through the slow storage");
  await settle(c, rec);
  return report(rec, { latencies });
}

export function p99(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
}
