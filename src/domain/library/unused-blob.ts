import { blobKnown } from "../../db/stats.ts";
import type { Db } from "../../db/connection.ts";
import type { BlobStore } from "../../store/types.ts";

/**
 * Removes a stored blob that no row names (its last image deleted, or an upload refused after
 * its bytes were placed). It goes to the trash first and the database is asked again: an
 * upload of the same content that added its row meanwhile gets it back. A store that fails
 * here leaves the blob to the sweep.
 */
export async function dropUnusedBlob(db: Db, blobs: BlobStore, hash: string): Promise<void> {
  try {
    if (await blobKnown(db, hash)) return;
    await blobs.trash(hash);
    if (await blobKnown(db, hash)) await blobs.restore(hash);
    else await blobs.purge(hash);
  } catch {
    // The sweep removes a blob no row names.
  }
}
