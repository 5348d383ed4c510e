import { mkdir, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FsArchiveStore } from "./archives.ts";
import { FsBlobStore } from "./blobs.ts";
import { FsPartStore } from "./parts.ts";
import type { FileBody } from "./files.ts";
import { FsVariantStore } from "./variants.ts";

export { FsArchiveStore } from "./archives.ts";
export { FsBlobStore } from "./blobs.ts";
export { FsVariantStore } from "./variants.ts";
export type { FileBody } from "./files.ts";

/** The default drivers: blobs, variants, downloads and upload parts under the data directory. */
export async function openFsStorage(dataDir: string, options: { fileBody?: FileBody } = {}) {
  const blobs = new FsBlobStore(dataDir, options);
  const variants = new FsVariantStore(dataDir, options);
  const archives = new FsArchiveStore(dataDir, options);
  const parts = new FsPartStore(dataDir);
  await Promise.all([blobs.init(), variants.init(), archives.init(), parts.init()]);
  return { blobs, variants, archives, parts };
}

/** Fails at start, with what to do, rather than at the first upload. */
export async function ensureWritable(dir: string) {
  try {
    await mkdir(dir, { recursive: true });
    const probe = join(dir, `.write-test-${process.pid}`);
    await writeFile(probe, "");
    await unlink(probe);
  } catch (err) {
    throw new Error(
      `data directory ${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): fix its permissions or choose another with --data-dir / IMGD_DATA_DIR`,
    );
  }
}
