import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { type TestServer, fixture, form, removeDataDir, startServer } from "../helpers/server.ts";
import { execute, loseBlob, query } from "../helpers/store.ts";

// An image's frames and alpha are stored when it is uploaded (images from before that get them
// from a backfill at start), so GET /api/v1/images/:id answers them without reading the
// original: it answers the same even when the original is gone from the store.

const FILES = ["with-alpha.png", "animated-loop-3.gif", "animated-loop-3.webp"];

let dataDir: string;
let s: TestServer;
let key: string;
const uploaded: { id: string; file: string; facts: { frames: number; has_alpha: boolean } }[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "imgd-test-"));
  s = await startServer({ dataDir });
  key = s.adminKey;
});
afterAll(async () => {
  await s?.stop();
  await removeDataDir(dataDir);
});

const facts = async (server: TestServer, id: string) => {
  const res = await server.api(`/api/v1/images/${id}`, { key });
  expect({ id, status: res.status }).toEqual({ id, status: 200 });
  const { metadata } = (await res.json()) as { metadata: { frames: number; has_alpha: boolean } };
  return { frames: metadata.frames, has_alpha: metadata.has_alpha };
};

test("frames and alpha are answered as the file says: a PNG with alpha, an animated GIF and WebP", async () => {
  for (const file of FILES) {
    const bytes = await fixture(file);
    const res = await s.api("/api/v1/images", { method: "POST", body: form({ file: { bytes, filename: file } }) });
    expect({ file, status: res.status }).toEqual({ file, status: 201 });
    const { id } = (await res.json()) as { id: string };
    const meta = await sharp(bytes, { animated: true }).metadata();
    const got = await facts(s, id);
    expect({ file, ...got }).toEqual({ file, frames: meta.pages ?? 1, has_alpha: meta.hasAlpha! });
    uploaded.push({ id, file, facts: got });
  }
  expect(uploaded.map((u) => u.facts)).toEqual([
    { frames: 1, has_alpha: true },
    { frames: 10, has_alpha: uploaded[1]!.facts.has_alpha },
    { frames: 10, has_alpha: uploaded[2]!.facts.has_alpha },
  ]);
});

test("images stored before the facts were kept get them from the backfill at start, then never read the original", async () => {
  expect(uploaded.length).toBe(FILES.length);
  // As an imgd from before migration 013_image_facts left them.
  execute(dataDir, "UPDATE images SET frames = NULL, has_alpha = NULL");
  await s.stop({ keepData: true });
  s = await startServer({ dataDir });
  // The backfill runs in the background; its last line says how many it filled.
  while (!/image facts: stored frames and alpha of \d+ images/.test(s.output())) await Bun.sleep(20);
  expect(s.output()).toContain(`image facts: stored frames and alpha of ${FILES.length} images`);
  const rows = query<{ id: string; frames: number; has_alpha: number }>(
    dataDir,
    "SELECT id, frames, has_alpha FROM images ORDER BY id",
  );
  expect(rows.map((r) => ({ id: r.id, frames: Number(r.frames), has_alpha: Number(r.has_alpha) === 1 }))).toEqual(
    uploaded.map((u) => ({ id: u.id, ...u.facts })).sort((a, b) => (a.id < b.id ? -1 : 1)),
  );
  // Every original gone from the store: the metadata is still answered, the same as before.
  const hashes = query<{ blob_hash: string }>(dataDir, "SELECT DISTINCT blob_hash FROM images");
  for (const { blob_hash } of hashes) await loseBlob(dataDir, blob_hash);
  for (const u of uploaded) expect({ file: u.file, ...(await facts(s, u.id)) }).toEqual({ file: u.file, ...u.facts });
});
