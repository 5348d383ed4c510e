import type { Kysely } from "kysely";

// What the codec worker learns of an image when it is stored (frames, alpha), kept so that
// reading an image's metadata never reads its original. Images stored before this have NULL
// until the backfill at start (domain/library/facts.ts) reads them once.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("images").addColumn("has_alpha", "integer").execute();
  await db.schema.alterTable("images").addColumn("frames", "integer").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("images").dropColumn("frames").execute();
  await db.schema.alterTable("images").dropColumn("has_alpha").execute();
}
