/** What is remembered of an answer: the tenant is all this module needs to know of it. */
interface Entry<T extends { userId: string }> {
  delivered: T;
  variantKey?: string;
  presetId?: string;
  /** The answer depended on Accept (the hot key holds the Accept class then). */
  varyAccept?: boolean;
  expires: number;
}

/**
 * The answer to recently requested delivery URLs, so a cached variant is served without a
 * database query. Bounded in size; entries expire after a few seconds so that a change made
 * by another node shows within that time, and changes made here drop them at once.
 */
export class HotRoutes<T extends { userId: string }> {
  readonly #map = new Map<string, Entry<T>>();
  /** Counts forgets: an answer looked up before one may be stale, and is not remembered. */
  #epoch = 0;

  constructor(
    private readonly now: () => number,
    private readonly maxEntries = 10_000,
    private readonly ttlMs = 10_000,
  ) {}

  get(url: string): Entry<T> | undefined {
    const e = this.#map.get(url);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.#map.delete(url);
      return undefined;
    }
    return e;
  }

  epoch(): number {
    return this.#epoch;
  }

  /**
   * `until`: the answer is wrong from then on (the image expires). `since`: the epoch when the
   * answer was looked up; a forget since then (here or on another node) may have made it stale.
   */
  set(url: string, entry: Omit<Entry<T>, "expires">, until = Infinity, since = this.#epoch) {
    if (since !== this.#epoch) return;
    if (this.#map.size >= this.maxEntries) {
      // Maps iterate in insertion order: the first key is the oldest.
      this.#map.delete(this.#map.keys().next().value!);
    }
    this.#map.set(url, { ...entry, expires: Math.min(until, this.now() + this.ttlMs) });
  }

  clear() {
    this.#epoch++;
    this.#map.clear();
  }

  forgetUser(userId: string) {
    this.#epoch++;
    for (const [url, e] of this.#map) if (e.delivered.userId === userId) this.#map.delete(url);
  }

  forgetVariants(keys: Iterable<string>) {
    const gone = new Set(keys);
    if (gone.size === 0) return;
    this.#epoch++;
    for (const [url, e] of this.#map) if (e.variantKey && gone.has(e.variantKey)) this.#map.delete(url);
  }
}
