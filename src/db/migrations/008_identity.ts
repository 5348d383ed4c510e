import type { Kysely } from "kysely";

// Identity rules: a dashboard session opened with a key names the key (it ends with it);
// Imgwire idempotency keys belong to the key that sent them, not to the whole tenant; the
// usernames of deleted accounts stay taken (old URLs and signatures name them); an email
// address given at open registration is only the account's once a link sent to it is opened.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("sessions").addColumn("key_id", "text").execute();
  // Sessions opened with a key before now do not say which: they end (a sign-in opens a new one).
  await db.deleteFrom("sessions").where("method", "=", "key").execute();

  await db.schema.dropIndex("imgwire_uploads_idem").execute();
  // NULLs are distinct in both SQLite and PostgreSQL: uploads without an idempotency key never collide.
  await db.schema
    .createIndex("imgwire_uploads_idem_key")
    .unique()
    .on("imgwire_uploads")
    .columns(["user_id", "key_id", "idempotency_key"])
    .execute();

  await db.schema
    .createTable("retired_usernames")
    .addColumn("username", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("retired_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("email_claims")
    // Only the SHA-256 of the link's secret, like setup links.
    .addColumn("token_hash", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("email", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("email_claims_user").on("email_claims").column("user_id").execute();
}
