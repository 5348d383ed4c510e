import { afterAll, beforeAll } from "bun:test";
import { randomUUID } from "node:crypto";
import { openS3Storage, parseS3Url, S3Client } from "../../src/store/s3/index.ts";
import { type S3TestServer, startS3, TEST_BUCKET } from "../helpers/s3.ts";
import { storageContract } from "./contract.ts";

// The S3 driver against the storage contract, on s3rver.

let server: S3TestServer;
beforeAll(async () => {
  server = await startS3();
});
afterAll(() => server.stop());

storageContract("s3", async () => {
  const prefix = `t-${randomUUID()}`;
  const loc = parseS3Url(`s3://${TEST_BUCKET}/${prefix}`, server.env);
  const open = () => {
    const { blobs, variants, archives } = openS3Storage(loc, { sweepGraceMs: 0 });
    return { blobs, variants, archives };
  };
  const s3 = new S3Client(loc);
  const count = async (p: string) => {
    let n = 0;
    for await (const _ of s3.list(`${prefix}/${p}`)) n++;
    return n;
  };
  return {
    ...open(),
    reopen: async () => open(),
    leftovers: async () => (await count("tmp/")) + (await count("tmp-downloads/")),
    secrets: [prefix, server.endpoint, "S3RVER"],
    cleanup: async () => {
      for await (const o of s3.list(`${prefix}/`)) await s3.delete(o.key);
    },
  };
});
