import type { Kysely } from "kysely";

// Custom domains connected before domain proofs existed were checked with one token that imgd
// itself answered on every host, so CONNECTED proved only that the name reached some imgd, not
// that the tenant owned it (any tenant could claim `localhost` or another tenant's name). They
// go back to PENDING: delivery on them stops until the owner publishes its token and runs
// test_connection again.
export async function up(db: Kysely<any>): Promise<void> {
  await db.updateTable("imgwire_domains").set({ status: "PENDING" }).where("status", "=", "CONNECTED").execute();
}
