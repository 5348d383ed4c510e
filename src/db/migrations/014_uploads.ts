import type { Kysely } from "kysely";

// Resumable (tus) uploads in progress: how far each has come and where its received parts are
// kept (one object per PATCH in the part store), so that any node can take the next PATCH.
// A finished upload keeps its row, naming the image, until it expires.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("uploads")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("upload_length", "bigint", (c) => c.notNull())
    .addColumn("upload_offset", "bigint", (c) => c.notNull())
    /** The Upload-Metadata header as sent, given back on HEAD. */
    .addColumn("raw_metadata", "text")
    .addColumn("upload_fields", "text", (c) => c.notNull().defaultTo("{}"))
    .addColumn("upload_parts", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("image_id", "text")
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("uploads_expires").on("uploads").column("expires_at").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("uploads").execute();
}
