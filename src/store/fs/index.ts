import { FsBlobStore } from "./blobs.ts";
import type { FileBody } from "./files.ts";
import { FsVariantStore } from "./variants.ts";

export { FsBlobStore } from "./blobs.ts";
export { FsVariantStore } from "./variants.ts";
export type { FileBody } from "./files.ts";

/** The default drivers: blobs and variants under the data directory. */
export async function openFsStorage(dataDir: string, options: { fileBody?: FileBody } = {}) {
  const blobs = new FsBlobStore(dataDir, options);
  const variants = new FsVariantStore(dataDir, options);
  await blobs.init();
  await variants.init();
  return { blobs, variants };
}
