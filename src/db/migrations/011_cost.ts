import type { Kysely } from "kysely";

// The tenant each cached variant was made for, so eviction can take from the tenant over its
// share of the cache first and one tenant's traffic cannot push out another's variants.
// Variants cached before this have none and count as one tenant of their own.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("variants").addColumn("user_id", "text").execute();
  await db.schema.createIndex("variants_user_access").on("variants").columns(["user_id", "last_access_at"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("variants_user_access").execute();
  await db.schema.alterTable("variants").dropColumn("user_id").execute();
}
