// Stages an endless body into the S3 blob store and says so once its multipart upload has
// begun; the test kills it with SIGKILL mid-upload, as a power cut or an OOM kill would.
import { openS3Storage, parseS3Url } from "../../src/store/s3/index.ts";

const { blobs } = openS3Storage(parseS3Url(process.argv[2], process.env), { sweepGraceMs: 0 });
async function* endless() {
  for (let i = 0; ; i++) {
    yield new Uint8Array(256 * 1024).fill(i & 255);
    if (i === 40) console.log("staging");
    await new Promise((r) => setTimeout(r, 5));
  }
}
await blobs.stage(endless(), Number.MAX_SAFE_INTEGER);
