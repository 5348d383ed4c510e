import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeImage } from "../helpers/images.ts";
import { form, imgdCommand, startServer } from "../helpers/server.ts";

// kill -9 in the middle of concurrent uploads, deletes and first-time variant requests, then a
// restart on the same data dir: what was acknowledged is there byte for byte, what was deleted is
// gone, and the data dir holds exactly what the database says (no orphan, nothing half-written).

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Files two levels under a sharded root (root/ab/cd/name). */
function sharded(root: string): { name: string; path: string }[] {
  if (!existsSync(root)) return [];
  const out: { name: string; path: string }[] = [];
  for (const a of readdirSync(root))
    for (const b of readdirSync(join(root, a)))
      for (const name of readdirSync(join(root, a, b))) out.push({ name, path: join(root, a, b, name) });
  return out;
}

/** What the data dir and the database say, read-only. */
function inspect(dataDir: string) {
  const db = new Database(join(dataDir, "imgd.sqlite"), { readonly: true });
  try {
    const blobRows = db.query("select hash, size from blobs").all() as { hash: string; size: number }[];
    const imageBlobs = db.query("select distinct blob_hash as h from images").all() as { h: string }[];
    const variantRows = db.query("select key, blob_hash, size from variants").all() as {
      key: string;
      blob_hash: string;
      size: number;
    }[];
    return {
      blobRows,
      imageBlobs: imageBlobs.map((r) => r.h),
      variantRows,
      blobFiles: sharded(join(dataDir, "blobs")),
      variantFiles: sharded(join(dataDir, "variants")),
    };
  } finally {
    db.close();
  }
}

/** Every stored file is whole: blobs hash to their names, variant files have their row's size. */
function expectNothingHalfWritten(dataDir: string) {
  const s = inspect(dataDir);
  for (const f of s.blobFiles) expect(sha256(readFileSync(f.path))).toBe(f.name);
  const sizes = new Map(s.variantRows.map((r) => [r.key, Number(r.size)]));
  for (const f of s.variantFiles) if (sizes.has(f.name)) expect(statSync(f.path).size).toBe(sizes.get(f.name)!);
}

/** After the restart: files and rows match one to one, and no temp or trash is left. */
function expectConsistent(dataDir: string) {
  const s = inspect(dataDir);
  const blobRowSet = new Set(s.blobRows.map((r) => r.hash));
  const blobFileSet = new Set(s.blobFiles.map((f) => f.name));
  expect([...blobFileSet].filter((h) => !blobRowSet.has(h))).toEqual([]); // orphan blobs
  expect([...blobRowSet].filter((h) => !blobFileSet.has(h))).toEqual([]); // rows without files
  expect(s.imageBlobs.filter((h) => !blobRowSet.has(h))).toEqual([]); // images without blobs
  for (const r of s.blobRows)
    expect(statSync(join(dataDir, "blobs", r.hash.slice(0, 2), r.hash.slice(2, 4), r.hash)).size).toBe(Number(r.size));
  const variantRowSet = new Set(s.variantRows.map((r) => r.key));
  expect(s.variantFiles.map((f) => f.name).filter((k) => !variantRowSet.has(k))).toEqual([]); // orphan variant files
  const variantFileSet = new Set(s.variantFiles.map((f) => f.name));
  expect(s.variantRows.filter((r) => !variantFileSet.has(r.key)).map((r) => r.key)).toEqual([]); // variant rows without files
  expect(s.variantRows.filter((r) => !blobRowSet.has(r.blob_hash)).map((r) => r.key)).toEqual([]); // variants of deleted blobs
  expect(readdirSync(join(dataDir, "tmp"))).toEqual([]);
  expect(readdirSync(join(dataDir, "trash"))).toEqual([]);
}

interface Acked {
  id: string;
  hash: string;
  url: string;
}

/** `imgd doctor` (read-only, default grace) on the live data dir, as an operator would run it. */
async function doctorLive(dataDir: string) {
  const cmd = imgdCommand();
  const p = Bun.spawn([...cmd, "doctor", "--data-dir", dataDir, "--quiet"], { stdout: "pipe", stderr: "pipe" });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  return { out, code };
}

async function crashRun(seed: number, killAfter: { uploads?: number; ms?: number; doctor?: boolean }) {
  const dataDir = await mkdtemp(join(tmpdir(), "imgd-crash-"));
  dirs.push(dataDir);
  let rnd = seed;
  const random = () => (rnd = (rnd * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;

  const s = await startServer({ dataDir });
  const key = s.adminKey;
  const auth = { authorization: `Bearer ${key}` };
  const images = await Promise.all(
    Array.from({ length: 60 }, (_, i) => makeImage(24 + i, 16 + ((i * 7) % 40), i % 2 ? "png" : "jpg")),
  );

  const acked: Acked[] = [];
  const deleted = new Set<string>();
  // A delete cut off by the kill may or may not have committed: those ids prove nothing.
  const inFlight = new Set<string>();
  const upload = async (i: number) => {
    const bytes = images[i % images.length];
    const res = await fetch(`${s.url}/api/v1/images`, {
      method: "POST",
      headers: auth,
      body: form({ file: { bytes, filename: `img-${seed}-${i}.${i % 2 ? "png" : "jpg"}` } }),
    });
    if (res.status !== 201) throw new Error(`upload ${res.status}`);
    const body = (await res.json()) as any;
    expect(body.hash).toBe(sha256(bytes));
    acked.push({ id: body.id, hash: body.hash, url: body.url });
  };
  // Some images exist before the storm, so deletes and variants have work from the start.
  for (let i = 0; i < 8; i++) await upload(i);

  let stop = false;
  let next = 8;
  const uploader = async () => {
    while (!stop) await upload(next++).catch(() => {});
  };
  const deleter = async () => {
    while (!stop) {
      const victim = acked[Math.floor(random() * acked.length)];
      if (!victim || deleted.has(victim.id)) {
        await Bun.sleep(5);
        continue;
      }
      inFlight.add(victim.id);
      const res = await fetch(`${s.url}/api/v1/images/${victim.id}`, { method: "DELETE", headers: auth }).catch(
        () => null,
      );
      if (res?.status === 200 || res?.status === 204) {
        deleted.add(victim.id);
        inFlight.delete(victim.id);
      }
      await res?.arrayBuffer().catch(() => {});
      await Bun.sleep(10 + random() * 30);
    }
  };
  const variants = async () => {
    while (!stop) {
      const target = acked[Math.floor(random() * acked.length)];
      const w = 8 + Math.floor(random() * 40);
      const ext = ["webp", "jpg", "png"][Math.floor(random() * 3)];
      const res = await fetch(`${target.url.replace(/\.[a-z]+$/i, `.${ext}`)}?w=${w}`).catch(() => null);
      await res?.arrayBuffer().catch(() => {});
    }
  };
  const workers = [uploader(), uploader(), uploader(), deleter(), variants(), variants()];
  const started = Date.now();
  // Doctor beside the running server, in the middle of the load: no false alarm.
  const doctor = killAfter.doctor ? await doctorLive(dataDir) : null;
  if (doctor)
    expect({ code: doctor.code, out: doctor.out }).toEqual({ code: 0, out: expect.stringContaining("healthy") });
  while (Date.now() - started < 20_000) {
    if (killAfter.uploads !== undefined && acked.length >= 8 + killAfter.uploads) break;
    if (killAfter.ms !== undefined && Date.now() - started >= killAfter.ms) break;
    await Bun.sleep(2);
  }
  await s.stop({ signal: "SIGKILL", keepData: true });
  stop = true;
  await Promise.all(workers);
  const ackedNow = [...acked];
  const deletedNow = new Set(deleted);
  const unsure = new Set(inFlight);

  // Before any restart: whatever is on disk is whole.
  expectNothingHalfWritten(dataDir);

  const again = await startServer({ dataDir });
  try {
    // The start-up sweep runs before the server listens.
    expectConsistent(dataDir);
    const live = ackedNow.filter((a) => !deletedNow.has(a.id) && !unsure.has(a.id));
    for (const a of live) {
      const meta = await fetch(`${again.url}/api/v1/images/${a.id}`, { headers: auth });
      expect(meta.status).toBe(200);
      const original = await fetch(`${again.url}${new URL(a.url).pathname}`);
      expect(original.status).toBe(200);
      expect(sha256(new Uint8Array(await original.arrayBuffer()))).toBe(a.hash);
    }
    for (const id of deletedNow)
      expect((await fetch(`${again.url}/api/v1/images/${id}`, { headers: auth })).status).toBe(404);
    // Variants made before the crash are served whole or made again; both decode to the asked width.
    for (const a of live.slice(0, 3)) {
      const v = await fetch(`${again.url}${new URL(a.url).pathname.replace(/\.[a-z]+$/i, ".webp")}?w=12`);
      expect(v.status).toBe(200);
      expect(v.headers.get("content-type")).toBe("image/webp");
    }
    return { acked: ackedNow.length, deleted: deletedNow.size, files: inspect(dataDir) };
  } finally {
    await again.stop({ keepData: true });
    // A clean stop leaves it consistent too.
    expectConsistent(dataDir);
  }
}

const runs: [string, number, { uploads?: number; ms?: number; doctor?: boolean }][] = [
  ["after 5 acknowledged uploads", 1, { uploads: 5 }],
  ["after 20 acknowledged uploads, with imgd doctor run during the load", 2, { uploads: 20, doctor: true }],
  ["after a random delay (0.3–1.3 s)", 3, { ms: 300 + Math.floor(Math.random() * 1000) }],
  ["after a random delay (0–0.4 s)", 4, { ms: Math.floor(Math.random() * 400) }],
];

for (const [name, seed, killAfter] of runs) {
  test(`SIGKILL ${name}: acknowledged uploads intact, deletes gone, no orphans`, async () => {
    const r = await crashRun(seed, killAfter);
    expect(r.acked).toBeGreaterThanOrEqual(8);
  }, 60_000);
}
