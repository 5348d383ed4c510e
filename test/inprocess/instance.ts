import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { User } from "../../src/db/schema.ts";
import type { UploadInput } from "../../src/domain/ingest/ingest.ts";
import { type ConfigInput, createImgd, type Imgd } from "../../src/index.ts";

// One imgd built by createImgd inside the test process, used without HTTP: the use cases
// called as routes call them. wasm-vips loads only in the instance's worker threads; the test
// realm decodes with sharp (helpers/images.ts). SQLite and files in a temp data dir.

export interface Instance {
  imgd: Imgd;
  admin: User;
  close: () => Promise<void>;
}

export async function instance(config: ConfigInput = {}): Promise<Instance> {
  const dataDir = await mkdtemp(join(tmpdir(), "imgd-inprocess-"));
  const imgd = await createImgd({ dataDir, workers: 1, ...config }, { log: () => {} });
  const { user: admin } = await imgd.services.users.ensureAdmin("admin");
  return {
    imgd,
    admin,
    close: async () => {
      await imgd.close();
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
