// An S3-compatible test server (s3rver, from npm) on a random loopback port with its files in
// the given directory. Prints "s3rver listening on <url>"; stops on SIGTERM or when its parent's
// pipe closes.
import S3rver from "s3rver";

const [directory, ...buckets] = process.argv.slice(2);
const server = new S3rver({
  address: "127.0.0.1",
  // A fixed port (IMGD_S3RVER_PORT) lets a fault test restart the server where nodes reach it.
  port: Number(process.env.IMGD_S3RVER_PORT ?? 0),
  directory,
  silent: true,
  configureBuckets: buckets.map((name) => ({ name })),
});
const { port } = await server.run();
console.log(`s3rver listening on http://127.0.0.1:${port}`);
const stop = async () => {
  await server.close().catch(() => {});
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.resume();
