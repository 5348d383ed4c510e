import type { Kysely } from "kysely";

// Webhooks: the endpoints a tenant registered, and the outbox of deliveries. A delivery row is
// written in the same transaction as the change it tells of (so a crash neither loses one nor
// invents one), one row per endpoint, and the dispatcher works through the rows: due ones in
// id order, one image's events to one endpoint one after another.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("webhooks")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("url", "text", (c) => c.notNull())
    // A JSON list of event types.
    .addColumn("events", "text", (c) => c.notNull())
    // `whsec_` + base64 of the key (Standard Webhooks); shown once, kept to sign.
    .addColumn("secret", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("webhooks_user").on("webhooks").column("user_id").execute();

  await db.schema
    .createTable("webhook_deliveries")
    // Ordered by creation, also within one millisecond: the order deliveries go out in.
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("webhook_id", "text", (c) => c.notNull().references("webhooks.id").onDelete("cascade"))
    .addColumn("user_id", "text", (c) => c.notNull())
    // The `webhook-id` header: one per event, the same on every attempt and redelivery.
    .addColumn("message_id", "text", (c) => c.notNull())
    .addColumn("type", "text", (c) => c.notNull())
    // What is delivered in order: the image the event is about.
    .addColumn("order_key", "text", (c) => c.notNull())
    // The JSON body, fixed when the event happened.
    .addColumn("payload", "text", (c) => c.notNull())
    // pending, delivered or failed (given up).
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("next_at", "bigint", (c) => c.notNull())
    .addColumn("last_status", "integer")
    .addColumn("last_error", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("finished_at", "bigint")
    .execute();
  await db.schema
    .createIndex("webhook_deliveries_due")
    .on("webhook_deliveries")
    .columns(["status", "next_at"])
    .execute();
  await db.schema
    .createIndex("webhook_deliveries_order")
    .on("webhook_deliveries")
    .columns(["webhook_id", "order_key", "status", "id"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("webhook_deliveries").execute();
  await db.schema.dropTable("webhooks").execute();
}
