import type { Kysely } from "kysely";

// Purging an image's cached variants. `images.generation` counts purges: it is part of the
// original's ETag and of every variant key, so after a purge no node and no client cache can
// answer with what was made before. A variant remembers the image and the URL (path and query,
// under the base URL) it was first made for: the URLs a CDN purge hook is told to drop.
// `users.strip_metadata`: what of an upload's metadata the tenant's originals lose by default.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("users")
    .addColumn("strip_metadata", "text", (c) => c.notNull().defaultTo("gps"))
    .execute();
  await db.schema
    .alterTable("images")
    .addColumn("generation", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable("variants").addColumn("image_id", "text").execute();
  await db.schema.alterTable("variants").addColumn("url", "text").execute();
  await db.schema.createIndex("variants_image").on("variants").column("image_id").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("variants_image").execute();
  await db.schema.alterTable("variants").dropColumn("url").execute();
  await db.schema.alterTable("variants").dropColumn("image_id").execute();
  await db.schema.alterTable("images").dropColumn("generation").execute();
  await db.schema.alterTable("users").dropColumn("strip_metadata").execute();
}
