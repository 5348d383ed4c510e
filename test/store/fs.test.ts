import { expect, test } from "bun:test";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FsArchiveStore, FsBlobStore, FsVariantStore } from "../../src/store/fs/index.ts";
import { storageContract } from "./contract.ts";

// The filesystem driver against the storage contract, plus what only a real crash shows.

async function openFs(dir: string) {
  const blobs = new FsBlobStore(dir);
  const variants = new FsVariantStore(dir);
  const archives = new FsArchiveStore(dir);
  await Promise.all([blobs.init(), variants.init(), archives.init()]);
  return { blobs, variants, archives };
}

storageContract("fs", async () => {
  const dir = await mkdtemp(join(tmpdir(), "imgd-store-"));
  return {
    ...(await openFs(dir)),
    reopen: () => openFs(dir),
    leftovers: async () =>
      (await readdir(join(dir, "tmp"))).length +
      (await readdir(join(dir, "downloads"))).filter((n) => n.endsWith(".part")).length,
    secrets: [dir, tmpdir()],
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

test("a process killed mid-upload leaves a partial file that the next start sweeps away", async () => {
  const dir = await mkdtemp(join(tmpdir(), "imgd-store-"));
  try {
    const child = Bun.spawn([process.execPath, join(import.meta.dir, "crash-child.ts"), dir], {
      stdout: "pipe",
      stderr: "inherit",
    });
    const reader = child.stdout.getReader();
    let out = "";
    while (!out.includes("staging")) {
      const r = await reader.read();
      if (r.done) break;
      out += new TextDecoder().decode(r.value);
    }
    expect(out).toContain("staging");
    child.kill("SIGKILL");
    await child.exited;
    const left = await readdir(join(dir, "tmp"));
    expect(left.length).toBe(1);
    const { blobs } = await openFs(dir);
    await blobs.sweep(async () => true);
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
    expect(await readdir(join(dir, "blobs"))).toEqual([]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
