// The fault scenarios of test/faults, run longer: a PostgreSQL fast restart, an S3 outage and
// slow S3, each under load from four clients through two nodes on a private PostgreSQL
// cluster and s3rver. Stricter than the tests: recovery within 2 s of the dependency's return,
// and the probes of the slow-S3 run (a memory-cached variant, the image list) under 100 ms p99.
//   bun scripts/chaos.ts [seconds per scenario, default 60] [postgres|s3|slow …]
import { faultTestsRunnable, startCluster } from "../test/faults/cluster.ts";
import { p99, postgresRestart, type Report, s3Outage, slowS3 } from "../test/faults/scenarios.ts";

const seconds = Number(process.argv[2] ?? 60);
const only = process.argv.slice(3);
if (!Number.isFinite(seconds) || seconds < 4) {
  console.error("usage: bun scripts/chaos.ts [seconds per scenario, at least 4] [postgres|s3|slow …]");
  process.exit(2);
}
if (!faultTestsRunnable("the chaos run")) process.exit(0);

const scenarios: Record<
  string,
  { slowProxy?: boolean; run: (c: Awaited<ReturnType<typeof startCluster>>) => Promise<Report> }
> = {
  postgres: { run: (c) => postgresRestart(c, seconds, 5000) },
  s3: { run: (c) => s3Outage(c, seconds, 5000) },
  slow: { slowProxy: true, run: (c) => slowS3(c, seconds, 2000) },
};

let failed = false;
for (const [name, s] of Object.entries(scenarios)) {
  if (only.length && !only.includes(name)) continue;
  const c = await startCluster({
    slowProxy: s.slowProxy,
    env: { IMGD_SWEEP_INTERVAL_MS: "1000", IMGD_STORAGE_SWEEP_AGE_MS: "30000" },
  });
  try {
    const r = await s.run(c);
    const problems = [...r.violations];
    for (const [i, ms] of (r.recoveryMs ?? []).entries())
      if (ms > 2000)
        problems.push(`node ${"AB"[i]} took ${Math.round(ms)} ms to acknowledge an upload after the return`);
    for (const [probe, values] of Object.entries(r.latencies ?? {}))
      if (p99(values) > 100) problems.push(`${probe}: p99 ${Math.round(p99(values))} ms (limit 100 ms)`);
    console.log(`\n${name}: ${JSON.stringify(r.counts)}`);
    if (r.recoveryMs) console.log(`  recovery: ${r.recoveryMs.map((ms) => `${Math.round(ms)} ms`).join(", ")}`);
    for (const [probe, values] of Object.entries(r.latencies ?? {}))
      console.log(`  ${probe}: p99 ${Math.round(p99(values))} ms over ${values.length}`);
    for (const p of problems) console.log(`  FAIL ${p}`);
    if (problems.length) failed = true;
    else console.log("  ok");
  } finally {
    await c.destroy();
  }
}
process.exit(failed ? 1 : 0);
