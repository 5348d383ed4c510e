import { expect, test } from "bun:test";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode, makeImage } from "../helpers/images.ts";
import { form, startServer } from "../helpers/server.ts";
import { query } from "../helpers/store.ts";

// What a crash leaves in the data directory, and what the next start makes of it: partial
// writes go, files no row knows go, and everything the database knows is served as before.

const hex = (n: number) => n.toString(16).padStart(2, "0").repeat(32);

test("a restart sweeps crash leftovers and keeps every stored blob and variant", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "imgd-restart-"));
  try {
    let s = await startServer({ dataDir });
    const key = s.adminKey;
    const up = await s.api("/api/v1/images", {
      method: "POST",
      body: form({ file: { bytes: await makeImage(90, 60, "png"), filename: "a.png" } }),
    });
    expect(up.status).toBe(201);
    const { url } = (await up.json()) as { url: string };
    const first = await fetch(`${url.replace(/\.png$/, ".webp")}?w=45`);
    expect(first.headers.get("x-cache")).toBe("MISS");
    const want = new Uint8Array(await first.arrayBuffer());
    expect(await s.stop({ keepData: true })).toBe(0);

    // As a crash would leave them: half-written temp files, a blob and a variant whose rows
    // never committed, a blob moved to the trash by a delete that never finished.
    const [blob] = query<{ hash: string }>(dataDir, "select hash from blobs");
    const orphanBlob = join(dataDir, "blobs", "ee", "ee", hex(0xee));
    const orphanVariant = join(dataDir, "variants", "dd", "dd", hex(0xdd));
    await mkdir(join(orphanBlob, ".."), { recursive: true });
    await mkdir(join(orphanVariant, ".."), { recursive: true });
    await writeFile(orphanBlob, "orphan blob");
    await writeFile(orphanVariant, "orphan variant");
    await writeFile(join(dataDir, "tmp", "1.part"), "partial upload");
    await writeFile(join(dataDir, "tmp", "2.variant"), "partial variant");
    await writeFile(join(dataDir, "trash", hex(0xcc)), "deleted, row gone");

    s = await startServer({ dataDir });
    expect(await readdir(join(dataDir, "tmp"))).toEqual([]);
    expect(await readdir(join(dataDir, "trash"))).toEqual([]);
    expect(await readdir(join(dataDir, "blobs", "ee", "ee"))).toEqual([]);
    expect(await readdir(join(dataDir, "variants", "dd", "dd"))).toEqual([]);
    // What the database knows is still there and served: the original and the cached variant.
    const again = await fetch(`${s.url}${new URL(url).pathname.replace(/\.png$/, ".webp")}?w=45`);
    expect(again.headers.get("x-cache")).toBe("HIT");
    expect(new Uint8Array(await again.arrayBuffer())).toEqual(want);
    const original = await s.api(`/i/admin/a.png`, { key });
    expect(original.headers.get("x-cache")).toBe("ORIGINAL");
    const d = await decode(new Uint8Array(await original.arrayBuffer()));
    expect([d.format, d.width, d.height]).toEqual(["png", 90, 60]);
    expect(query(dataDir, "select hash from blobs")).toEqual([blob]);
    await s.stop({ keepData: true });
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
