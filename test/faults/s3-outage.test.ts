import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Cluster, faultTestsRunnable, startCluster, whatWentWrong } from "./cluster.ts";
import { s3Outage } from "./scenarios.ts";

// s3rver killed under load through two nodes (3 s away), then started again on the same port.
// scripts/chaos.ts runs the same scenario longer.

const runnable = faultTestsRunnable("the S3 outage fault test");
let c: Cluster;

beforeAll(async () => {
  if (runnable) c = await startCluster({ env: { IMGD_SWEEP_INTERVAL_MS: "500", IMGD_STORAGE_SWEEP_AGE_MS: "8000" } });
}, 120_000);

afterAll(async () => {
  await c?.destroy();
});

describe.skipIf(!runnable)("S3 killed under load", () => {
  test("no 200 with a wrong or empty body, 503 during the outage, uploads come back, bucket and database agree", async () => {
    const r = await s3Outage(c, 6, 3000);
    console.log(`s3 outage: ${JSON.stringify(r.counts)}; recovery ${r.recoveryMs?.map(Math.round)} ms`);
    if (r.violations.length) for (const n of c.nodes) console.log(whatWentWrong(n.output()));
    expect(r.violations).toEqual([]);
    // The outage was seen: originals were refused with 503 rather than sent empty.
    expect(r.counts["original 503"] ?? 0).toBeGreaterThan(0);
    expect(r.recoveryMs?.every(Number.isFinite)).toBe(true);
  }, 180_000);
});
