// The HTTP test suites (the folders scripts/test-runs.ts names) once more, against PostgreSQL
// (and S3, when run by scripts/with-s3.ts as `npm run test:pg` does): every test server gets a database of its own on the server at
// IMGD_TEST_POSTGRES_URL (default: the one .ci/run starts). The two-node
// test (test/cluster) is on PostgreSQL always and runs with the others in `bun test`.
//   bun scripts/test-postgres.ts [test files or folders…]
import pg from "pg";
import { POSTGRES_URL, TEST_DATABASE_PREFIX } from "../test/helpers/postgres.ts";
import { RUNS, testFiles } from "./test-runs.ts";

const client = new pg.Client({ connectionString: POSTGRES_URL });
try {
  await client.connect();
} catch (err) {
  const where = `${POSTGRES_URL.replace(/:[^:@/]*@/, ":***@")} (${(err as Error).message})`;
  // CI names its server (IMGD_TEST_POSTGRES_URL): there, a missing one is a failure, not a skip.
  if (process.env.IMGD_TEST_POSTGRES_URL) {
    console.error(`cannot reach PostgreSQL at ${where}: start it or correct IMGD_TEST_POSTGRES_URL`);
    process.exit(1);
  }
  console.warn(`SKIPPED the PostgreSQL + S3 run: no PostgreSQL at ${where}; .ci/run installs and starts one`);
  process.exit(0);
}
// Databases left behind by runs that were cut short (older than an hour: a run beside this one keeps its own).
const { rows } = await client.query<{ datname: string }>("select datname from pg_database where datname like $1", [
  `${TEST_DATABASE_PREFIX}%`,
]);
for (const { datname } of rows) {
  const made = Number.parseInt(datname.slice(TEST_DATABASE_PREFIX.length).split("_")[0], 36);
  if (Date.now() - made > 3_600_000) await client.query(`drop database if exists ${datname} with (force)`);
}
await client.end();

const files = process.argv.slice(2);
const started = performance.now();
const run = Bun.spawn(
  [
    process.execPath,
    "test",
    "--timeout",
    "120000",
    "--parallel=2",
    ...(files.length ? files : testFiles(RUNS.postgres)),
  ],
  { env: { ...process.env, IMGD_TEST_DATABASE: "postgres" }, stdout: "inherit", stderr: "inherit" },
);
const code = await run.exited;
console.log(`PostgreSQL suite: ${((performance.now() - started) / 1000).toFixed(1)} s`);
process.exit(code);
