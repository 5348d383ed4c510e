import { afterAll, expect, test } from "bun:test";
import { S3Client } from "../../src/store/s3/client.ts";
import { toAppError } from "../../src/http/errors.ts";

// The S3 client against a server that takes requests and never answers: each call gives up
// after IMGD_STORAGE_TIMEOUT_MS, and after three in a row S3 is not asked at all for a moment
// (the request gets its 503 at once instead of waiting out another timeout).

let received = 0;
const silent = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  idleTimeout: 0,
  fetch: () => {
    received++;
    return new Promise<Response>(() => {});
  },
});
afterAll(() => silent.stop(true));

const client = (timeoutMs: number) =>
  new S3Client(
    {
      bucket: "b",
      prefix: "",
      endpoint: `http://127.0.0.1:${silent.port}`,
      region: "us-east-1",
      pathStyle: true,
      accessKeyId: "k",
      secretAccessKey: "s",
    },
    { timeoutMs, openMs: 60_000 },
  );

test("a call without an answer times out; three in a row open the circuit; an open circuit asks nothing", async () => {
  const s3 = client(300);
  for (let i = 0; i < 3; i++) {
    const err = await s3.head("a").then(
      () => null,
      (e) => e,
    );
    expect(err?.message).toContain("no answer within 300 ms");
    // What a request gets: 503 with Retry-After, about the storage.
    const app = toAppError(err, () => {});
    expect([app.status, app.extra.retryAfter, app.message]).toEqual([
      503,
      2,
      "The storage does not answer; retry shortly",
    ]);
  }
  expect(received).toBe(3);
  const refused = await s3.get("b").then(
    () => null,
    (e) => e,
  );
  expect(refused?.message).toContain("not tried");
  expect(toAppError(refused, () => {}).status).toBe(503);
  // Refused without a request.
  expect(received).toBe(3);
});
