import type { Db } from "./connection.ts";

/** How many blobs are stored and their bytes (one row per distinct file). */
export async function blobTotals(db: Db): Promise<{ count: number; bytes: number }> {
  const row = await db
    .selectFrom("blobs")
    .select((eb) => [
      eb.fn.countAll<number>().as("n"),
      eb.fn.coalesce(eb.fn.sum<number>("size"), eb.lit(0)).as("bytes"),
    ])
    .executeTakeFirstOrThrow();
  return { count: Number(row.n), bytes: Number(row.bytes) };
}

/** Whether a blob row exists (the start-up sweep keeps only files the database names). */
export async function blobKnown(db: Db, hash: string): Promise<boolean> {
  return !!(await db.selectFrom("blobs").select("hash").where("hash", "=", hash).executeTakeFirst());
}
