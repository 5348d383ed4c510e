import { expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renameIntoPlace } from "../../src/store/fs/files.ts";
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

// Windows refuses to rename over a file a reader has open (EPERM): a second copy of the same
// content then stays where it was staged and is dropped, the one in place is kept.
const refuseAsWindows = async () => {
  throw Object.assign(new Error("EPERM: operation not permitted, rename"), { code: "EPERM" });
};

test("a content-addressed file already in place is kept when the rename over it is refused", async () => {
  const dir = await mkdtemp(join(tmpdir(), "imgd-store-"));
  try {
    await writeFile(join(dir, "target"), "same bytes");
    await writeFile(join(dir, "staged"), "same bytes");
    await renameIntoPlace(join(dir, "staged"), join(dir, "target"), refuseAsWindows);
    expect((await readdir(dir)).sort()).toEqual(["target"]);
    expect(await readFile(join(dir, "target"), "utf8")).toBe("same bytes");
    // With nothing in place the refusal is an error, and the staged file is left to its caller.
    await writeFile(join(dir, "staged"), "bytes");
    await expect(renameIntoPlace(join(dir, "staged"), join(dir, "other"), refuseAsWindows)).rejects.toMatchObject({
      code: "EPERM",
    });
    expect((await readdir(dir)).sort()).toEqual(["staged", "target"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// The same refusal from a real filesystem: an immutable file (chattr +i, as root on Linux) may
// not be replaced, as an open one under Windows.
const chattr = (flag: string, path: string) =>
  Bun.spawnSync(["chattr", flag, path], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;

test("the same variant stored twice while the first may not be replaced: the second put succeeds", async () => {
  const dir = await mkdtemp(join(tmpdir(), "imgd-store-"));
  const { variants } = await openFs(dir);
  const key = "0123456789abcdef0123";
  const path = join(dir, "variants", "01", "23", key);
  const bytes = new TextEncoder().encode("variant bytes");
  try {
    await variants.put(key, bytes);
    if (!chattr("+i", path)) {
      console.warn("skipped: chattr +i is not available here (needs root and a filesystem that supports it)");
      return;
    }
    await variants.put(key, bytes);
    const stored = await variants.open(key);
    expect(new Uint8Array(await new Response(stored!.stream()).arrayBuffer())).toEqual(bytes);
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
  } finally {
    chattr("-i", path);
    await rm(dir, { recursive: true, force: true });
  }
});
