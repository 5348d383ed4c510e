import { describe, expect, test } from "bun:test";
import { MissBudget } from "../../src/domain/delivery/budget.ts";
import { MemoryTier } from "../../src/domain/delivery/memory-tier.ts";
import { AppError } from "../../src/domain/errors.ts";

// The pieces of the anonymous cost budget that HTTP cannot show: how the per-address token
// bucket refills and groups IPv6 clients, and the memory cache's per-tenant share (a memory
// miss is still a disk hit, so X-Cache does not tell).

function refusal(f: () => void): AppError {
  try {
    f();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("not refused");
}

describe("MissBudget: a token bucket per client address", () => {
  test("a minute's worth at once, then one more each 60/N seconds, with Retry-After until then", () => {
    let now = 1_000_000;
    const budget = new MissBudget(6, () => now);
    for (let i = 0; i < 6; i++) budget.take("203.0.113.7");
    const err = refusal(() => budget.take("203.0.113.7"));
    expect(err.status).toBe(429);
    expect(err.extra.retryAfter).toBe(10);
    // Another address has its own budget.
    budget.take("203.0.113.8");
    now += 9_000;
    expect(refusal(() => budget.take("203.0.113.7")).extra.retryAfter).toBe(1);
    now += 1_000;
    budget.take("203.0.113.7");
    expect(() => budget.take("203.0.113.7")).toThrow(AppError);
    // A long pause refills no more than a minute's worth.
    now += 3_600_000;
    for (let i = 0; i < 6; i++) budget.take("203.0.113.7");
    expect(() => budget.take("203.0.113.7")).toThrow(AppError);
  });

  test("an IPv6 client is one budget per /64, however it spells its address", () => {
    const budget = new MissBudget(2, () => 0);
    budget.take("2001:db8:1:2::1");
    budget.take("2001:0db8:0001:0002:ffff::9");
    expect(() => budget.take("2001:db8:1:2:a:b:c:d")).toThrow(AppError);
    budget.take("2001:db8:1:3::1");
  });

  test("0/min refuses every anonymous miss", () => {
    const budget = new MissBudget(0, () => 0);
    expect(refusal(() => budget.take("198.51.100.1")).extra.retryAfter).toBe(60);
  });
});

describe("MemoryTier: one tenant's hot variants cannot push out another's", () => {
  const entry = (userId: string, n: number) => ({
    etag: `"${userId}-${n}"`,
    mime: "image/webp",
    bytes: new Uint8Array(1000),
    userId,
  });

  test("B's entry stays while A fills the cache many times over; A's oldest go", () => {
    const cache = new MemoryTier(16 * 1024);
    cache.set("b-1", cache.epoch(), entry("b", 1));
    for (let i = 0; i < 60; i++) cache.set(`a-${i}`, cache.epoch(), entry("a", i));
    expect(cache.get("b-1")?.etag).toBe('"b-1"');
    expect(cache.get("a-0")).toBeUndefined();
    expect(cache.get("a-59")?.etag).toBe('"a-59"');
    expect(cache.bytes).toBeLessThanOrEqual(16 * 1024);
  });
});
