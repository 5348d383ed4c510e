import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Cluster, faultTestsRunnable, startCluster, whatWentWrong } from "./cluster.ts";
import { postgresRestart } from "./scenarios.ts";

// A PostgreSQL fast restart (every session terminated, 3 s down) under load through two nodes.
// scripts/chaos.ts runs the same scenario longer.

const runnable = faultTestsRunnable("the PostgreSQL restart fault test");
let c: Cluster;

beforeAll(async () => {
  if (runnable) c = await startCluster({ env: { IMGD_SWEEP_INTERVAL_MS: "500", IMGD_STORAGE_SWEEP_AGE_MS: "8000" } });
}, 120_000);

afterAll(async () => {
  await c?.destroy();
});

describe.skipIf(!runnable)("PostgreSQL restarted under load", () => {
  test("no node exits, outage answers are 2xx from cache or 503, uploads come back, nothing lost or left over", async () => {
    const r = await postgresRestart(c, 6, 3000);
    console.log(`postgres restart: ${JSON.stringify(r.counts)}; recovery ${r.recoveryMs?.map(Math.round)} ms`);
    if (r.violations.length) for (const n of c.nodes) console.log(whatWentWrong(n.output()));
    expect(r.violations).toEqual([]);
    // The outage was seen (some answers were refused), and uploads came back on both nodes.
    expect(r.counts["upload 201"]).toBeGreaterThan(0);
    expect(r.recoveryMs?.every(Number.isFinite)).toBe(true);
  }, 180_000);
});
