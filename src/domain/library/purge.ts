import type { Db } from "../../db/connection.ts";
import type { VariantIndex } from "../../store/variant-index.ts";
import { notFound } from "../errors.ts";
import { type Events, imageData } from "../webhooks/events.ts";
import type { CdnPurge, CdnPurgeResult } from "./cdn-purge.ts";
import { type ImageRecord, live, withPaths } from "./image-rows.ts";

// Purging an image: its cached variants go (index rows and stored bytes; the index tells every
// node's memory tier and hot routes through the bus), its generation goes up (part of the
// original's ETag and of every variant key, so no node and no client answers from before), and
// a CDN in front is told its public URLs. A deletion tells the CDN too (see `deleted`).

export interface PurgeDeps {
  db: Db;
  variants: Pick<VariantIndex, "deleteForBlobs" | "urlsOf">;
  /** A tenant's images changed: delivery's remembered answers go, on every node. */
  onChanged: (userId: string) => void;
  /** The CDN hook (IMGD_PURGE); absent: none. */
  cdn?: CdnPurge;
  /** The public base URL when the caller names none (IMGD_PUBLIC_URL, else the listening address). */
  base: () => string;
  /** The webhook outbox: `variant.purged`, in the purge's own transaction. */
  events?: Pick<Events, "emit">;
  log: (line: string) => void;
  now: () => number;
}

export interface Purged {
  id: string;
  generation: number;
  /** The public URLs the CDN hook was (or would be) told. */
  urls: string[];
  /** null: no CDN hook is set. */
  cdn: CdnPurgeResult | null;
}

export class Purge {
  constructor(private readonly d: PurgeDeps) {}

  /** Purges one of the tenant's images (404 for any other). `base`: the public base URL of the caller's request. */
  async image(userId: string, id: string, base = this.d.base()): Promise<Purged> {
    const image = await this.d.db.transaction().execute(async (trx) => {
      const row = await live(
        trx.selectFrom("images").selectAll().where("id", "=", id).where("user_id", "=", userId),
        this.d.now(),
      ).executeTakeFirst();
      if (!row) throw notFound("Image");
      await trx
        .updateTable("images")
        .set((eb) => ({ generation: eb("generation", "+", 1), updated_at: this.d.now() }))
        .where("id", "=", id)
        .execute();
      const purged = await withPaths(trx, { ...row, generation: row.generation + 1 });
      await this.d.events?.emit(trx, userId, "variant.purged", imageData(purged));
      return purged;
    });
    // Read before the variants go: their rows hold the URLs they were made for.
    const urls = await this.#urls([image], base);
    // Every variant of its bytes (images sharing them are made again too: it is only a cache).
    await this.d.variants.deleteForBlobs([image.blob_hash]);
    this.d.onChanged(userId);
    const cdn = this.d.cdn ? await this.d.cdn.purge(urls) : null;
    for (const f of cdn?.failed ?? []) this.d.log(`CDN purge of image ${id}: ${f.url}: ${f.error}`);
    return { id, generation: image.generation, urls, cdn };
  }

  /**
   * Images were deleted (their rows are gone, their variant rows not yet): the CDN is told
   * their URLs, in the background (a slow CDN must not hold the deletion's answer).
   */
  async deleted(images: ImageRecord[]): Promise<void> {
    const cdn = this.d.cdn;
    if (!cdn || images.length === 0) return;
    const urls = await this.#urls(images, this.d.base());
    void cdn.purge(urls).then(
      (r) => {
        for (const f of r.failed) this.d.log(`CDN purge after a deletion: ${f.url}: ${f.error}`);
      },
      (err) => this.d.log(`CDN purge after a deletion: ${(err as Error).message}`),
    );
  }

  /** The image's direct URLs (each path under /i/) and the URLs its variants were made for. */
  async #urls(images: ImageRecord[], base: string): Promise<string[]> {
    const users = await this.d.db
      .selectFrom("users")
      .select(["id", "username"])
      .where(
        "id",
        "in",
        images.map((i) => i.user_id),
      )
      .execute();
    const username = new Map(users.map((u) => [u.id, u.username]));
    const urls = new Set<string>();
    for (const image of images) {
      const name = username.get(image.user_id);
      if (!name) continue;
      for (const p of image.paths)
        urls.add(`${base}/i/${encodeURIComponent(name)}/${p.split("/").map(encodeURIComponent).join("/")}`);
      for (const u of await this.d.variants.urlsOf(image.id)) urls.add(base + u);
    }
    return [...urls];
  }
}
