import { openFsStorage } from "./fs/index.ts";
import type { ArchiveStore, BlobStore, VariantStore } from "./types.ts";

export type * from "./types.ts";
export { BlobTooLargeError } from "./types.ts";

export interface Storage {
  blobs: BlobStore;
  variants: VariantStore;
  archives: ArchiveStore;
}

/**
 * The storage drivers of one imgd. The filesystem under the data directory is the default
 * (and so far the only one); another driver plugs in here, behind the same interfaces.
 */
export async function openStorage(options: {
  dataDir: string;
  fileBody?: (path: string) => BodyInit;
}): Promise<Storage> {
  return openFsStorage(options.dataDir, { fileBody: options.fileBody });
}
