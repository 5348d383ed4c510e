import { createHash } from "node:crypto";
import { thumbHashToDataURL } from "thumbhash";
import type { Image } from "../../db/schema.ts";
import type { Images } from "../library/images.ts";

// Placeholders: every image's ThumbHash (made by the codec worker when it is stored), and the
// tiny blurred PNG a `?placeholder` URL answers, rendered from the hash without a codec job.
// Images stored before placeholders get theirs lazily (first `?placeholder`) or from the
// backfill that runs at start.

export interface PlaceholderDeps {
  images: Pick<Images, "setThumbhash" | "withoutThumbhash">;
  /** The ThumbHash of a stored blob (a codec job: decode at a small size). */
  thumbhashOf: (blobHash: string) => Promise<string>;
  log?: (line: string) => void;
}

export interface Placeholder {
  png: Uint8Array;
  etag: string;
}

export class Placeholders {
  readonly #making = new Map<string, Promise<string>>();
  #stopped = false;

  constructor(private readonly d: PlaceholderDeps) {}

  /** The image's ThumbHash, made and stored now when it has none. */
  async thumbhash(image: Pick<Image, "id" | "blob_hash" | "thumbhash">): Promise<string> {
    if (image.thumbhash) return image.thumbhash;
    let making = this.#making.get(image.id);
    if (!making) {
      making = this.d
        .thumbhashOf(image.blob_hash)
        .then(async (hash) => {
          await this.d.images.setThumbhash(image.id, hash);
          return hash;
        })
        .finally(() => this.#making.delete(image.id));
      this.#making.set(image.id, making);
    }
    return making;
  }

  /** The blurred PNG (about 32 px on the long side) a ThumbHash renders to. */
  png(thumbhash: string): Placeholder {
    const dataUrl = thumbHashToDataURL(Buffer.from(thumbhash, "base64"));
    const png = new Uint8Array(Buffer.from(dataUrl.slice(dataUrl.indexOf(",") + 1), "base64"));
    const etag = `"ph-${createHash("sha256").update(thumbhash).digest("hex").slice(0, 32)}"`;
    return { png, etag };
  }

  /** Gives every image without a ThumbHash one, a batch at a time, until none is left or stop(). */
  async backfill(batch = 20): Promise<number> {
    let done = 0;
    const failed = new Set<string>();
    while (!this.#stopped) {
      const rows = (await this.d.images.withoutThumbhash(batch + failed.size)).filter((r) => !failed.has(r.id));
      if (rows.length === 0) break;
      for (const row of rows) {
        if (this.#stopped) break;
        try {
          await this.thumbhash({ ...row, thumbhash: null });
          done++;
        } catch (err) {
          // An unreadable original keeps no placeholder; it is not retried in this run.
          failed.add(row.id);
          this.d.log?.(`placeholder for image ${row.id} failed: ${(err as Error).message}`);
        }
      }
    }
    return done;
  }

  #running: Promise<unknown> | undefined;

  /** Runs the backfill in the background (after the codec workers are up); stop() ends it. */
  start(ready: Promise<unknown>) {
    this.#running = ready
      .then(() => this.backfill())
      .then((n) => n && this.d.log?.(`placeholders: made ${n} ThumbHashes for images stored before them`))
      .catch((err) => this.d.log?.(`placeholders: ${(err as Error).message}`));
  }

  async stop() {
    this.#stopped = true;
    await this.#running;
  }
}
