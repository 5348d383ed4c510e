import type { Kysely } from "kysely";

// What a tenant lets anonymous callers do with its URLs: `transforms` (signed, presets or any;
// null follows IMGD_TRANSFORMS) and `fetch_origins`, the URL prefixes (a JSON list) that an
// unsigned URL may make imgd fetch from (a watermark_url).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("users").addColumn("transforms", "text").execute();
  await db.schema.alterTable("users").addColumn("fetch_origins", "text").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("users").dropColumn("fetch_origins").execute();
  await db.schema.alterTable("users").dropColumn("transforms").execute();
}
