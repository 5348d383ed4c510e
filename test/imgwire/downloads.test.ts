import { afterAll, beforeAll, expect, test } from "bun:test";
import { makeImage } from "../helpers/images.ts";
import { type TestServer, startServer } from "../helpers/server.ts";
import { loseBlob, query, storedFiles } from "../helpers/store.ts";
import { client } from "./helpers.ts";

// Bulk downloads stream originals from the blob store into a ZIP kept by the archive store. A
// ZIP is whole or absent: a job whose blob went missing fails and leaves no part behind.

let s: TestServer;
let call: ReturnType<typeof client>;
beforeAll(async () => {
  s = await startServer();
  call = client(s);
});
afterAll(() => s.stop());

async function upload(bytes: Uint8Array) {
  const created = await call("POST", "/api/v1/images/standard_upload", "/api/v1/images/standard_upload", {
    json: { file_name: "a.png" },
  });
  expect((await fetch(created.body.upload_url, { method: "PUT", body: bytes as BodyInit })).status).toBe(200);
  return created.body.image.id as string;
}

async function finished(jobId: string) {
  let got = await call("GET", "/api/v1/images/downloads/{image_download_job_id}", `/api/v1/images/downloads/${jobId}`);
  for (let i = 0; i < 100 && (got.body.status === "PENDING" || got.body.status === "PROCESSING"); i++) {
    await Bun.sleep(50);
    got = await call("GET", "/api/v1/images/downloads/{image_download_job_id}", `/api/v1/images/downloads/${jobId}`);
  }
  return got.body;
}

test("a ZIP of several originals holds each one's bytes; a job whose blob is gone fails and keeps nothing", async () => {
  const a = await makeImage(40, 30, "png");
  const b = await makeImage(50, 20, "png");
  const ids = [await upload(a), await upload(b)];
  const ok = await finished(
    (await call("POST", "/api/v1/images/downloads", "/api/v1/images/downloads", { json: { image_ids: ids } })).body.id,
  );
  expect(ok.status).toBe("READY");
  const res = await fetch(ok.download_url);
  expect(res.headers.get("content-type")).toBe("application/zip");
  const zip = Buffer.from(await res.arrayBuffer());
  // From an object store the ZIP is a stream, which Bun sends chunked (it drops a Content-Length
  // given with a stream body); from a file it carries its length.
  const length = res.headers.get("content-length");
  if (length !== null || process.env.IMGD_TEST_STORAGE !== "s3") expect(Number(length)).toBe(zip.length);
  expect(zip.includes(Buffer.from(a))).toBe(true);
  expect(zip.includes(Buffer.from(b))).toBe(true);

  // The blob of the second image is lost from the disk (as after a bad restore).
  const [{ blob_hash }] = query<{ blob_hash: string }>(s.dataDir, "select blob_hash from images where id = ?", ids[1]);
  await loseBlob(s.dataDir, blob_hash);
  const bad = await finished(
    (await call("POST", "/api/v1/images/downloads", "/api/v1/images/downloads", { json: { image_ids: ids } })).body.id,
  );
  expect(bad.status).toBe("FAILED");
  expect(bad.download_url).toBeNull();
  expect(storedFiles(s.dataDir, "downloads")).toEqual([`/downloads/${ok.id}.zip`]);
  // The server is still answering, and the good ZIP is still served.
  expect((await fetch(`${s.url}/health`)).status).toBe(200);
  expect((await fetch(ok.download_url)).status).toBe(200);
});
