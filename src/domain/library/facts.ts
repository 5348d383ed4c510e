import type { Images } from "./images.ts";

// Frames and alpha of images stored before ingest kept them (migration 013_image_facts): read
// once from each original's structure, in the background after start, a batch at a time, so
// that metadata reads never need the original again.

export interface FactsBackfillDeps {
  images: Pick<Images, "withoutLayout" | "fillLayout">;
  log: (line: string) => void;
  /** Images read per batch; the loop yields between batches. */
  batch?: number;
  /** A progress line every this many images. */
  reportEvery?: number;
}

export class FactsBackfill {
  #stopped = false;
  #running: Promise<unknown> | undefined;

  constructor(private readonly d: FactsBackfillDeps) {}

  /** Fills every image without stored frames and alpha, until none is left or stop(). */
  async run(): Promise<number> {
    const { images, log, batch = 50, reportEvery = 1000 } = this.d;
    let done = 0;
    // An unreadable original (its blob gone) is left NULL and not retried in this run.
    const failed: string[] = [];
    while (!this.#stopped) {
      const rows = await images.withoutLayout(batch, failed);
      if (rows.length === 0) break;
      for (const row of rows) {
        if (this.#stopped) break;
        try {
          await images.fillLayout(row);
          done++;
          if (done % reportEvery === 0) log(`image facts: ${done} images done, continuing`);
        } catch (err) {
          failed.push(row.id);
          log(`image facts: image ${row.id} could not be read: ${(err as Error).message}`);
        }
      }
      // One batch at a time, so requests are served between them.
      await new Promise((r) => setTimeout(r, 0));
    }
    return done;
  }

  start() {
    this.#running = this.run()
      .then((n) => n && this.d.log(`image facts: stored frames and alpha of ${n} images stored before they were kept`))
      .catch((err) => this.d.log(`image facts: ${(err as Error).message}`));
  }

  async stop() {
    this.#stopped = true;
    await this.#running;
  }
}
