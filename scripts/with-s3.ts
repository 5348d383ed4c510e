// Runs a command with an S3-compatible test server (s3rver from npm) on a random port with a
// temp directory, and IMGD_TEST_STORAGE=s3: every test server keeps its originals, variants
// and downloads in that bucket, under a prefix of its own. Used by `npm run test:s3`:
//   bun scripts/with-s3.ts bun test test/native
import { startS3 } from "../test/helpers/s3.ts";

const command = process.argv.slice(2);
if (command.length === 0) {
  console.error("usage: bun scripts/with-s3.ts <command> [args…]");
  process.exit(2);
}
const s3 = await startS3();
console.error(`s3rver on ${s3.endpoint} (${s3.dir})`);
const child = Bun.spawn(command, {
  env: { ...process.env, ...s3.env, IMGD_TEST_STORAGE: "s3", IMGD_TEST_S3_DIR: s3.dir },
  stdio: ["inherit", "inherit", "inherit"],
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
const code = await child.exited;
await s3.stop();
process.exit(code);
