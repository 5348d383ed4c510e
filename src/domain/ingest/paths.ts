import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.ts";
import { AppError } from "../errors.ts";
import { stemOf } from "../library/paths.ts";

// An upload's path among the tenant's paths (compared by stem: `a.jpg` and `a.png` are one path).

/**
 * Picks the alias for an upload. An explicit path that another image holds is a conflict; a
 * path derived from the file name gets a numeric suffix instead, so re-uploading "photo.jpg"
 * with new content never fails.
 */
export async function claimPath(
  trx: Kysely<Database>,
  userId: string,
  wanted: string,
  sameImageId: string | undefined,
  explicit: boolean,
) {
  for (let n = 0; n < 1000; n++) {
    const path = n === 0 ? wanted : withSuffix(wanted, n);
    const holder = await trx
      .selectFrom("image_paths")
      .select("image_id")
      .where("user_id", "=", userId)
      .where("stem", "=", stemOf(path))
      .executeTakeFirst();
    if (!holder) return { path, free: true };
    if (holder.image_id === sameImageId) return { path, free: false };
    if (explicit) throw new AppError("CONFLICT", `Path '${path}' is already used by another image`);
  }
  throw new AppError("CONFLICT", `Too many images named like '${wanted}'`);
}

function withSuffix(path: string, n: number) {
  const stem = stemOf(path);
  return `${stem}-${n}${path.slice(stem.length)}`;
}

export async function insertPath(trx: Kysely<Database>, userId: string, path: string, imageId: string, now: number) {
  await trx
    .insertInto("image_paths")
    .values({ user_id: userId, stem: stemOf(path), path, image_id: imageId, created_at: now })
    .execute();
}
