import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("users")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("username", "text", (c) => c.notNull().unique())
    .addColumn("email", "text")
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("plan", "text", (c) => c.notNull())
    .addColumn("verified", "integer", (c) => c.notNull().defaultTo(1))
    .addColumn("delivery_formats", "text", (c) => c.notNull().defaultTo('["webp","avif","jpeg"]'))
    .addColumn("default_quality", "integer", (c) => c.notNull().defaultTo(80))
    .addColumn("default_fit_mode", "text", (c) => c.notNull().defaultTo("contain"))
    .addColumn("default_max_width", "integer")
    .addColumn("default_max_height", "integer")
    .addColumn("theme", "text", (c) => c.notNull().defaultTo("light"))
    .addColumn("language", "text", (c) => c.notNull().defaultTo("en"))
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("api_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull().defaultTo("server"))
    .addColumn("key_prefix", "text", (c) => c.notNull())
    .addColumn("key_hash", "text", (c) => c.notNull().unique())
    .addColumn("last4", "text", (c) => c.notNull())
    .addColumn("scopes", "text", (c) => c.notNull())
    .addColumn("options", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint")
    .addColumn("last_used_at", "bigint")
    .addColumn("total_requests", "bigint", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex("api_keys_user").on("api_keys").column("user_id").execute();

  await db.schema
    .createTable("blobs")
    .addColumn("hash", "text", (c) => c.primaryKey())
    .addColumn("size", "bigint", (c) => c.notNull())
    .addColumn("format", "text", (c) => c.notNull())
    .addColumn("mime", "text", (c) => c.notNull())
    .addColumn("width", "integer", (c) => c.notNull())
    .addColumn("height", "integer", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("images")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("blob_hash", "text", (c) => c.notNull().references("blobs.hash"))
    .addColumn("original_filename", "text", (c) => c.notNull())
    .addColumn("sanitized_filename", "text", (c) => c.notNull())
    .addColumn("format", "text", (c) => c.notNull())
    .addColumn("mime_type", "text", (c) => c.notNull())
    .addColumn("size", "bigint", (c) => c.notNull())
    .addColumn("width", "integer", (c) => c.notNull())
    .addColumn("height", "integer", (c) => c.notNull())
    .addColumn("visibility", "text", (c) => c.notNull())
    .addColumn("dominant_color", "text")
    .addColumn("namespace", "text")
    .addColumn("metadata", "text", (c) => c.notNull().defaultTo("{}"))
    .addColumn("external_id", "text")
    .addColumn("source_url", "text")
    .addColumn("expires_at", "bigint")
    .addColumn("signed_url", "text")
    .addColumn("signed_url_expires_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("images_user_created").on("images").columns(["user_id", "created_at"]).execute();
  await db.schema.createIndex("images_user_blob").on("images").columns(["user_id", "blob_hash"]).execute();
  await db.schema.createIndex("images_blob").on("images").column("blob_hash").execute();
  await db.schema.createIndex("images_user_external").on("images").columns(["user_id", "external_id"]).execute();
  await db.schema.createIndex("images_expires").on("images").column("expires_at").execute();

  await db.schema
    .createTable("image_paths")
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    // The path without its extension: the extension of a delivery URL picks the output format,
    // so `a.png` and `a.jpg` would name the same URL and may not both exist.
    .addColumn("stem", "text", (c) => c.notNull())
    .addColumn("path", "text", (c) => c.notNull())
    .addColumn("image_id", "text", (c) => c.notNull().references("images.id").onDelete("cascade"))
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("image_paths_pk", ["user_id", "stem"])
    .execute();
  await db.schema.createIndex("image_paths_image").on("image_paths").column("image_id").execute();

  await db.schema
    .createTable("image_tags")
    .addColumn("image_id", "text", (c) => c.notNull().references("images.id").onDelete("cascade"))
    .addColumn("tag", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("image_tags_pk", ["image_id", "tag"])
    .execute();
  await db.schema.createIndex("image_tags_tag").on("image_tags").column("tag").execute();

  await db.schema
    .createTable("presets")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("description", "text")
    .addColumn("params", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addColumn("usage_count", "bigint", (c) => c.notNull().defaultTo(0))
    .addUniqueConstraint("presets_user_name", ["user_id", "name"])
    .execute();

  await db.schema
    .createTable("usage_counters")
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("period", "text", (c) => c.notNull())
    .addColumn("metric", "text", (c) => c.notNull())
    .addColumn("value", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("usage_counters_pk", ["user_id", "period", "metric"])
    .execute();

  await db.schema
    .createTable("variants")
    .addColumn("key", "text", (c) => c.primaryKey())
    .addColumn("blob_hash", "text", (c) => c.notNull())
    .addColumn("size", "bigint", (c) => c.notNull())
    .addColumn("mime", "text", (c) => c.notNull())
    .addColumn("width", "integer", (c) => c.notNull())
    .addColumn("height", "integer", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("last_access_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("variants_blob").on("variants").column("blob_hash").execute();
  await db.schema.createIndex("variants_lru").on("variants").column("last_access_at").execute();
}
