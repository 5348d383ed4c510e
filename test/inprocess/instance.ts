import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { User } from "../../src/db/schema.ts";
import type { UploadInput } from "../../src/domain/ingest/ingest.ts";
import { type ConfigInput, createImgd, type Imgd } from "../../src/index.ts";
import { createTestDatabase } from "../helpers/postgres.ts";
import { sharedS3, TEST_BUCKET } from "../helpers/s3.ts";

// One imgd built by createImgd inside the test process, used without HTTP: the use cases
// called as routes call them. wasm-vips loads only in the instance's worker threads; the test
// realm decodes with sharp (helpers/images.ts). SQLite and files in a temp data dir, or what
// IMGD_TEST_DATABASE=postgres and IMGD_TEST_STORAGE=s3 name, as for test servers.

export interface Instance {
  imgd: Imgd;
  admin: User;
  close: () => Promise<void>;
}

export async function instance(config: ConfigInput = {}): Promise<Instance> {
  const dataDir = await mkdtemp(join(tmpdir(), "imgd-inprocess-"));
  const database = process.env.IMGD_TEST_DATABASE === "postgres" ? await createTestDatabase() : null;
  let storageUrl: string | undefined;
  if (process.env.IMGD_TEST_STORAGE === "s3") {
    // The storage driver reads AWS_* from the environment, as the server does.
    for (const [k, v] of Object.entries((await sharedS3()).env)) process.env[k] ??= v;
    storageUrl = `s3://${TEST_BUCKET}/${basename(dataDir)}`;
  }
  const imgd = await createImgd(
    { dataDir, workers: 1, databaseUrl: database?.url, storageUrl, ...config },
    { log: () => {} },
  );
  const { user: admin } = await imgd.services.users.ensureAdmin("admin");
  return {
    imgd,
    admin,
    close: async () => {
      await imgd.close();
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The body of an upload as a route streams it: in chunks. */
async function* chunks(bytes: Uint8Array, size = 4096) {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** One upload the way every route makes it: admit (with the size it declares), receive, store. */
export async function upload(
  imgd: Imgd,
  user: User,
  bytes: Uint8Array,
  input: UploadInput,
  declaredBytes: number | null = bytes.byteLength,
) {
  const { ingest } = imgd.services;
  const admission = await ingest.admit({ user }, { declaredBytes });
  return ingest.run(admission, async (u) => {
    await u.receive(chunks(bytes));
    return u.store(input);
  });
}

/** A refusal's code and status (AppError), or a failure of the test when there is none. */
export async function refusal(p: Promise<unknown>): Promise<{ code: string; status: number; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code: string; status: number; message: string };
    return { code: e.code, status: e.status, message: e.message };
  }
  throw new Error("expected a refusal, got an answer");
}
