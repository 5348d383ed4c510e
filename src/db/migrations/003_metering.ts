import type { Kysely } from "kysely";

// Hourly counters per tenant, next to the monthly ones in usage_counters: the monthly rows
// enforce plans, these draw the time series (metrics datasets and stats). Kept apart so that a
// limit check touches one small row and charts never scan it.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("usage_hourly")
    .addColumn("user_id", "text", (c) => c.notNull())
    // Start of the UTC hour, in ms.
    .addColumn("hour", "bigint", (c) => c.notNull())
    .addColumn("metric", "text", (c) => c.notNull())
    .addColumn("value", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("usage_hourly_pk", ["user_id", "hour", "metric"])
    .execute();
}
