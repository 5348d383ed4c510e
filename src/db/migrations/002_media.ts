import type { Kysely } from "kysely";

// The img.pro dialect's library fields (viewer page flag, editorial date) and the database-held
// rate-limit windows (registration, anonymous uploads): nothing correctness depends on may
// live in one process's memory.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("images")
    .addColumn("page_public", "integer", (c) => c.notNull().defaultTo(1))
    .execute();
  await db.schema.alterTable("images").addColumn("display_date", "text").execute();
  await db.schema.createIndex("images_user_namespace").on("images").columns(["user_id", "namespace"]).execute();

  await db.schema
    .createTable("rate_windows")
    // e.g. "register-ip:203.0.113.7"; one row per subject and fixed window.
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("window_start", "bigint", (c) => c.notNull())
    .addColumn("window_ms", "bigint", (c) => c.notNull())
    .addColumn("count", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("rate_windows_pk", ["subject", "window_ms", "window_start"])
    .execute();
  await db.schema.createIndex("rate_windows_start").on("rate_windows").column("window_start").execute();
  await db.schema.createIndex("users_email").on("users").column("email").execute();
}
