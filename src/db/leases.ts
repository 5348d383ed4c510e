import type { Db } from "./connection.ts";

/** A held lease: renewed in the background until released. */
export interface Lease {
  release(): Promise<void>;
}

/**
 * Work only one node may do at a time, claimed in the database with an expiry. The holder
 * renews its claim while it works; a node that dies stops renewing, and once the claim has
 * expired another node takes it over.
 */
export class Leases {
  constructor(
    private readonly db: Db,
    /** This process: leases it holds carry this id. */
    readonly holder: string,
  ) {}

  /** Claims `name` for `ms` (renewed every ms/3 until released), or null while another holds it. */
  async acquire(name: string, ms: number): Promise<Lease | null> {
    if (!(await this.#claim(name, ms))) return null;
    const timer = setInterval(
      () => {
        this.db
          .updateTable("leases")
          .set({ expires_at: Date.now() + ms })
          .where("name", "=", name)
          .where("holder", "=", this.holder)
          .execute()
          .catch(() => {});
      },
      Math.max(100, Math.floor(ms / 3)),
    );
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        await this.db.deleteFrom("leases").where("name", "=", name).where("holder", "=", this.holder).execute();
      },
    };
  }

  /**
   * One conditional upsert: a new row, the row of an expired claim taken over, or this
   * process's own claim (each caller here already runs one at a time per name). Under
   * concurrency exactly one caller wins (PostgreSQL locks the row; SQLite has one writer).
   */
  async #claim(name: string, ms: number): Promise<boolean> {
    // Wall time, not the configured clock: every node must read expiry the same way.
    const now = Date.now();
    const r = await this.db
      .insertInto("leases")
      .values({ name, holder: this.holder, expires_at: now + ms })
      .onConflict((oc) =>
        oc
          .column("name")
          .doUpdateSet((eb) => ({ holder: eb.ref("excluded.holder"), expires_at: eb.ref("excluded.expires_at") }))
          // Our own claim too: one whose release failed (the database was away) would otherwise
          // hold this process's own work back until it expires.
          .where((eb) => eb.or([eb("leases.expires_at", "<", now), eb("leases.holder", "=", this.holder)])),
      )
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** At the start of the one process owning a SQLite data directory: every holder is gone. */
  async clear() {
    await this.db.deleteFrom("leases").execute();
  }

  /** Drops leases that expired long ago (their holders died). */
  async prune() {
    await this.db
      .deleteFrom("leases")
      .where("expires_at", "<", Date.now() - 3_600_000)
      .execute();
  }
}
