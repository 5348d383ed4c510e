import {
  jpegHeadComplete,
  STRIP_MODES,
  type StripMode,
  type Stripped,
  stripMetadata,
} from "../../../codecs/metadata/strip.ts";
import type { User } from "../../db/schema.ts";
import type { BlobStore, StagedBlob } from "../../store/types.ts";

// Metadata stripping on upload: what the mode names is removed from the received bytes (the
// containers rewritten, the pixels untouched) and the result staged anew in place of what came,
// so the stored blob and its hash are of the bytes kept. Nothing to remove: nothing changes.

/** The tenant's default; a value this version does not know strips GPS, the safe default. */
export function tenantStrip(user: Pick<User, "strip_metadata">): StripMode {
  const mode = user.strip_metadata as StripMode;
  return STRIP_MODES.includes(mode) ? mode : "gps";
}

/** The restaged bytes and what was removed; null when nothing was (the staged bytes stay). */
export async function stripStaged(
  blobs: Pick<BlobStore, "stage">,
  staged: StagedBlob,
  format: string,
  mode: StripMode,
): Promise<{ staged: StagedBlob; removed: Stripped[] } | null> {
  if (mode === "none" || (format !== "jpeg" && format !== "png" && format !== "webp")) return null;
  // A JPEG's metadata precedes its image data: when the head holds all of it and none needs
  // to go, the file is not read again (on S3, a second download).
  if (format === "jpeg" && jpegHeadComplete(staged.head) && !stripMetadata(staged.head, format, mode).removed.length)
    return null;
  const r = stripMetadata(await staged.read(), format, mode);
  if (r.removed.length === 0) return null;
  const bytes = r.bytes;
  const restaged = await blobs.stage(
    (async function* () {
      yield bytes;
    })(),
    bytes.byteLength,
  );
  await staged.discard();
  return { staged: restaged, removed: r.removed };
}
