import { AppError } from "../errors.ts";

// What anonymous callers may cost a tenant: each client address gets a budget of new variants
// (cache misses that reach a worker), refilled at IMGD_MISS_RATE. The owner's own requests (its
// key, its session, URLs it signed) are never counted here; cache hits never reach it.

/** Addresses tracked at most: past this, buckets that are full again are dropped first. */
const MAX_BUCKETS = 100_000;

/**
 * A token bucket per client address (an IPv6 client by its /64, which one host usually has
 * whole): holds up to a minute's worth, refilled continuously. In this process's memory, so with
 * several nodes behind a balancer an address may make up to this many per node.
 */
export class MissBudget {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number,
  ) {}

  /** Takes one miss from the address's budget, or refuses with 429 and when to retry. */
  take(address: string) {
    const key = bucketOf(address);
    const now = this.now();
    const rate = this.perMinute / 60_000;
    const b = this.#buckets.get(key);
    const tokens = b ? Math.min(this.perMinute, b.tokens + (now - b.at) * rate) : this.perMinute;
    if (tokens < 1) {
      const retryAfter = rate > 0 ? Math.max(1, Math.ceil((1 - tokens) / rate / 1000)) : 60;
      throw new AppError(
        "RATE_LIMIT_EXCEEDED",
        `Too many new variants from this address: the limit is ${this.perMinute} per minute (IMGD_MISS_RATE). ` +
          `Variants already made are still served; retry in ${retryAfter} s, or ask with the owner's key or a signed URL`,
        { retryAfter },
      );
    }
    this.#buckets.delete(key);
    this.#buckets.set(key, { tokens: tokens - 1, at: now });
    if (this.#buckets.size > MAX_BUCKETS) this.#prune(now, rate);
  }

  /** Drops buckets that have refilled (they hold nothing a fresh one would not), then the oldest. */
  #prune(now: number, rate: number) {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + (now - b.at) * rate >= this.perMinute) this.#buckets.delete(k);
    }
    for (const k of this.#buckets.keys()) {
      if (this.#buckets.size <= MAX_BUCKETS * 0.9) break;
      this.#buckets.delete(k);
    }
  }
}

/** An IPv6 address by its first 64 bits; anything else as it is. */
function bucketOf(address: string): string {
  if (!address.includes(":")) return address;
  const [head, tail = ""] = address.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = address.includes("::")
    ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}
