import { FsArchiveStore } from "./archives.ts";
import { FsBlobStore } from "./blobs.ts";
import type { FileBody } from "./files.ts";
import { FsVariantStore } from "./variants.ts";

export { FsArchiveStore } from "./archives.ts";
export { FsBlobStore } from "./blobs.ts";
export { FsVariantStore } from "./variants.ts";
export type { FileBody } from "./files.ts";

/** The default drivers: blobs, variants and downloads under the data directory. */
export async function openFsStorage(dataDir: string, options: { fileBody?: FileBody } = {}) {
  const blobs = new FsBlobStore(dataDir, options);
  const variants = new FsVariantStore(dataDir, options);
  const archives = new FsArchiveStore(dataDir, options);
  await Promise.all([blobs.init(), variants.init(), archives.init()]);
  return { blobs, variants, archives };
}
