import type { Db } from "../db/connection.ts";
import type { StoredObject, VariantStore } from "./types.ts";

export interface CachedVariant {
  key: string;
  object: StoredObject;
  size: number;
  mime: string;
  width: number;
  height: number;
}

export interface VariantIndexStats {
  hits: number;
  misses: number;
  evictions: number;
  bytes: number;
  entries: number;
}

/** How often a node sharing the index reads its totals again. */
const RECOUNT_MS = 30_000;

/** Access times are written at most this often per entry: LRU needs order, not precision. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Transformed images, keyed by (blob hash + canonical spec), with a size cap and
 * least-recently-used eviction. The index lives in the database so the cap and the order
 * survive restarts; the bytes live in a VariantStore driver, which writes them whole.
 */
export class VariantIndex {
  #bytes = 0;
  #entries = 0;
  #evicting: Promise<void> | null = null;
  readonly #stats = { hits: 0, misses: 0, evictions: 0 };

  /** When the totals were last read from the index (see `shared`). */
  #countedAt = 0;

  constructor(
    private readonly db: Db,
    private readonly store: VariantStore,
    private readonly capBytes: number,
    private readonly now: () => number,
    /**
     * Other nodes add to and evict from the same index: the totals this process keeps drift,
     * so they are read again from the index now and then, and before evicting.
     */
    private readonly shared = false,
    /** Told which keys left the cache, so nothing keeps pointing at their files. */
    private readonly onRemoved: (keys: string[]) => void = () => {},
  ) {}

  /**
   * Counts the index. `sweep` first makes index and files agree (see sweep); only the process
   * that owns the data directory may, since it removes what a running writer may be making.
   */
  async init({ sweep = true }: { sweep?: boolean } = {}) {
    if (sweep) await this.sweep();
    await this.#count();
  }

  async #count() {
    this.#countedAt = Date.now();
    const r = await this.db
      .selectFrom("variants")
      .select((eb) => [
        eb.fn.countAll<number>().as("n"),
        eb.fn.coalesce(eb.fn.sum<number>("size"), eb.lit(0)).as("bytes"),
      ])
      .executeTakeFirstOrThrow();
    this.#entries = Number(r.n);
    this.#bytes = Number(r.bytes);
  }

  async get(key: string): Promise<CachedVariant | null> {
    const row = await this.db.selectFrom("variants").selectAll().where("key", "=", key).executeTakeFirst();
    if (!row) {
      this.#stats.misses++;
      return null;
    }
    const object = await this.store.open(key);
    if (!object || object.size !== Number(row.size)) {
      // Lost or cut short (a crash before the data reached the disk): forget it.
      await this.#remove([key]);
      this.#stats.misses++;
      return null;
    }
    this.#stats.hits++;
    const now = this.now();
    if (now - row.last_access_at > TOUCH_EVERY_MS) {
      await this.db.updateTable("variants").set({ last_access_at: now }).where("key", "=", key).execute();
    }
    return { key, object, size: object.size, mime: row.mime, width: row.width, height: row.height };
  }

  /**
   * `meta.userId`: the tenant it was made for, whose share of the cache it takes; `imageId` and
   * `url`: the image and URL it was made for, what a purge tells a CDN to drop.
   */
  async put(
    key: string,
    blobHash: string,
    data: Uint8Array,
    meta: { mime: string; width: number; height: number; userId?: string; imageId?: string; url?: string },
  ) {
    await this.store.put(key, data);
    const now = this.now();
    const existed = await this.db.selectFrom("variants").select("size").where("key", "=", key).executeTakeFirst();
    // Only while the source blob exists: its image may have been deleted during the transform,
    // and a row then would outlive its blob.
    const r = await this.db
      .insertInto("variants")
      .columns([
        "key",
        "blob_hash",
        "size",
        "mime",
        "width",
        "height",
        "created_at",
        "last_access_at",
        "user_id",
        "image_id",
        "url",
      ])
      .expression((eb) =>
        eb
          .selectFrom("blobs")
          .select([
            eb.val(key).as("key"),
            eb.val(blobHash).as("blob_hash"),
            eb.val(data.byteLength).as("size"),
            eb.val(meta.mime).as("mime"),
            eb.val(meta.width).as("width"),
            eb.val(meta.height).as("height"),
            eb.val(now).as("created_at"),
            eb.val(now).as("last_access_at"),
            eb.val(meta.userId ?? null).as("user_id"),
            eb.val(meta.imageId ?? null).as("image_id"),
            eb.val(meta.url ?? null).as("url"),
          ])
          .where("hash", "=", blobHash),
      )
      .onConflict((oc) => oc.column("key").doUpdateSet({ size: data.byteLength, last_access_at: now }))
      .executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0) === 0) {
      await this.store.delete([key]);
      return;
    }
    this.#bytes += data.byteLength - Number(existed?.size ?? 0);
    if (!existed) this.#entries++;
    if (this.shared && Date.now() - this.#countedAt > RECOUNT_MS) await this.#count();
    if (this.#bytes > this.capBytes) void this.evict();
  }

  /**
   * Drops entries until the cache is 10 % under its cap: least recently used first, but only
   * of tenants holding more than an equal share of the cache, so one tenant's traffic evicts
   * its own variants rather than everyone's (a tenant under its share keeps what it has).
   */
  evict(): Promise<void> {
    this.#evicting ??= (async () => {
      try {
        if (this.shared) await this.#count();
        const target = this.capBytes * 0.9;
        while (this.#bytes > target) {
          const held = await this.db
            .selectFrom("variants")
            .select((eb) => ["user_id", eb.fn.sum<number>("size").as("bytes")])
            .groupBy("user_id")
            .execute();
          if (held.length === 0) break;
          const share = target / held.length;
          // Each tenant over its share, with what it holds (variants from before 011 count as one tenant).
          const over = new Map(held.filter((h) => Number(h.bytes) > share).map((h) => [h.user_id, Number(h.bytes)]));
          const tenants = [...over.keys()];
          const named = tenants.filter((t): t is string => t !== null);
          const rows = await this.db
            .selectFrom("variants")
            .select(["key", "size", "user_id"])
            .$if(over.size > 0, (q) =>
              q.where((eb) =>
                eb.or([
                  ...(named.length ? [eb("user_id", "in", named)] : []),
                  ...(over.has(null) ? [eb("user_id", "is", null)] : []),
                ]),
              ),
            )
            .orderBy("last_access_at")
            .orderBy("key")
            .limit(100)
            .execute();
          if (rows.length === 0) break;
          const victims: string[] = [];
          let freed = 0;
          for (const r of rows) {
            if (this.#bytes - freed <= target) break;
            const holds = over.get(r.user_id);
            if (over.size > 0 && (holds === undefined || holds <= share)) continue;
            victims.push(r.key);
            freed += Number(r.size);
            if (holds !== undefined) over.set(r.user_id, holds - Number(r.size));
          }
          if (victims.length === 0) break;
          await this.#remove(victims);
          this.#stats.evictions += victims.length;
        }
      } finally {
        this.#evicting = null;
      }
    })();
    return this.#evicting;
  }

  /**
   * At start, before serving: makes the index and the files agree after a crash. Drops rows
   * whose file is missing or cut short or whose blob is gone, and files no row names.
   */
  async sweep(): Promise<{ removed: number }> {
    const rows = await this.db
      .selectFrom("variants")
      .leftJoin("blobs", "blobs.hash", "variants.blob_hash")
      .select(["variants.key", "variants.size", "blobs.hash"])
      .execute();
    const known = new Set<string>();
    const stale: string[] = [];
    for (const r of rows) {
      const object = r.hash === null ? null : await this.store.open(r.key);
      if (object?.size === Number(r.size)) known.add(r.key);
      else stale.push(r.key);
    }
    for (let i = 0; i < stale.length; i += 500) await this.#remove(stale.slice(i, i + 500));
    const files = await this.store.sweep(async (key) => known.has(key));
    return { removed: stale.length + files.removed };
  }

  /** Called when blobs are deleted: their variants go too. */
  async deleteForBlobs(hashes: string[]) {
    if (hashes.length === 0) return;
    const rows = await this.db.selectFrom("variants").select("key").where("blob_hash", "in", hashes).execute();
    await this.#remove(rows.map((r) => r.key));
  }

  /** The URLs (path and query) variants of this image were made for. */
  async urlsOf(imageId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom("variants")
      .select("url")
      .distinct()
      .where("image_id", "=", imageId)
      .where("url", "is not", null)
      .execute();
    return rows.map((r) => r.url!);
  }

  async #remove(keys: string[]) {
    if (keys.length === 0) return;
    const rows = await this.db.selectFrom("variants").select(["key", "size"]).where("key", "in", keys).execute();
    await this.db.deleteFrom("variants").where("key", "in", keys).execute();
    this.onRemoved(keys);
    for (const r of rows) {
      this.#bytes -= Number(r.size);
      this.#entries--;
    }
    await this.store.delete(keys);
  }

  stats(): VariantIndexStats {
    return { ...this.#stats, bytes: this.#bytes, entries: this.#entries };
  }
}
