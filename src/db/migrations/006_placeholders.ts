import type { Kysely } from "kysely";

// A ThumbHash per image (base64, about 30 characters): the blurred placeholder clients draw
// while the image loads. Images stored before this have none until one is made for them
// (lazily, on the first `?placeholder`, or by `backfillPlaceholders` at start).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("images").addColumn("thumbhash", "text").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("images").dropColumn("thumbhash").execute();
}
