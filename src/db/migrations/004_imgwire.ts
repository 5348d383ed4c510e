import type { Kysely } from "kysely";

// The Imgwire dialect: uploads promised before their bytes arrive (and their idempotency
// keys), upload tokens, CORS origins, custom domains and bulk-download jobs. Client keys live
// in api_keys (kind 'client', settings in `options`); an environment is a tenant, whose
// display name is kept on the user.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("users").addColumn("display_name", "text").execute();

  await db.schema
    .createTable("imgwire_uploads")
    // The image's id: the image row gets the same one once the bytes are stored.
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("key_id", "text")
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("file_name", "text", (c) => c.notNull())
    .addColumn("declared_mime", "text")
    .addColumn("declared_length", "bigint")
    .addColumn("declared_hash", "text")
    .addColumn("idempotency_key", "text")
    .addColumn("purpose", "text")
    .addColumn("custom_metadata", "text", (c) => c.notNull().defaultTo("{}"))
    .addColumn("exif_data", "text", (c) => c.notNull().defaultTo("{}"))
    .addColumn("upload_token_id", "text")
    .addColumn("processed_metadata_at", "bigint")
    .addColumn("upload_expires_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  // One image per idempotency key and tenant, whatever races (NULLs are distinct in both SQLite and PostgreSQL).
  await db.schema
    .createIndex("imgwire_uploads_idem")
    .unique()
    .on("imgwire_uploads")
    .columns(["user_id", "idempotency_key"])
    .execute();
  await db.schema
    .createIndex("imgwire_uploads_key_status")
    .on("imgwire_uploads")
    .columns(["key_id", "status"])
    .execute();

  await db.schema
    .createTable("imgwire_upload_tokens")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("token_hash", "text", (c) => c.notNull().unique())
    .addColumn("used_at", "bigint")
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("imgwire_cors_origins")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("pattern", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("imgwire_cors_origins_user").on("imgwire_cors_origins").column("user_id").execute();

  await db.schema
    .createTable("imgwire_domains")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().unique().references("users.id").onDelete("cascade"))
    .addColumn("hostname", "text", (c) => c.notNull().unique())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("last_verified_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("imgwire_downloads")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("image_ids", "text", (c) => c.notNull())
    .addColumn("expires_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("imgwire_downloads_status").on("imgwire_downloads").column("status").execute();
}
