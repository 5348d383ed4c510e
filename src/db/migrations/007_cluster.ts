import type { Kysely } from "kysely";

// What several nodes on one database must agree on: the instance's settings (the signing
// secret first: a URL signed by one node verifies on every other) and leases, claims with an
// expiry on work only one node may do at a time (making a new variant, the periodic sweep).
// A node that dies holding one loses it when it expires.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("settings")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("value", "text", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("leases")
    // e.g. "variant:<key>", "sweep"
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("holder", "text", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();
}
