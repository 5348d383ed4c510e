// Stages an endless body into the filesystem blob store and says so; the test kills it with
// SIGKILL mid-write, as a power cut or an OOM kill would.
import { FsBlobStore } from "../../src/store/fs/blobs.ts";

const store = new FsBlobStore(process.argv[2]);
await store.init();
async function* endless() {
  for (let i = 0; ; i++) {
    yield new Uint8Array(64 * 1024).fill(i & 255);
    if (i === 16) console.log("staging");
    await new Promise((r) => setTimeout(r, 5));
  }
}
await store.stage(endless(), Number.MAX_SAFE_INTEGER);
