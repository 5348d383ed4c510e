import { createHash } from "node:crypto";
import { AppError } from "../errors.ts";
import type { WatermarkBytes } from "./request.ts";

const URL_MARK_TTL_MS = 60_000;
const MAX_URL_MARKS = 16;

/**
 * Watermarks fetched from URLs, by URL, for a minute: a cached variant still needs the mark's
 * hash for its key, and one fetch per request would make every hit wait on another host.
 */
export class UrlMarks {
  readonly #marks = new Map<string, { until: number; mark: Promise<WatermarkBytes> }>();

  constructor(
    /** A watermark's bytes from a URL, through the SSRF-safe fetcher; absent: refused. */
    private readonly fetch: ((url: string) => Promise<Uint8Array>) | undefined,
    private readonly now: () => number,
  ) {}

  get(url: string): Promise<WatermarkBytes> {
    const fetch = this.fetch;
    if (!fetch) return Promise.reject(new AppError("VALIDATION_ERROR", "watermark_url: not available on this server"));
    const now = this.now();
    const known = this.#marks.get(url);
    if (known && known.until > now) return known.mark;
    for (const [k, v] of this.#marks) if (v.until <= now) this.#marks.delete(k);
    // A few marks at most are in use at once; past that, forget the oldest.
    while (this.#marks.size >= MAX_URL_MARKS) this.#marks.delete(this.#marks.keys().next().value!);
    const mark = fetch(url).then((bytes) => ({
      hash: createHash("sha256").update(bytes).digest("hex"),
      bytes,
    }));
    this.#marks.set(url, { until: now + URL_MARK_TTL_MS, mark });
    // A failed fetch is not remembered: the next request tries again.
    mark.catch(() => this.#marks.delete(url));
    return mark;
  }
}
