import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { admin, createTestDatabase } from "./postgres.ts";
import { sharedS3, TEST_BUCKET } from "./s3.ts";
import { checkImgdAnswer } from "./openapi.ts";

export const ROOT = resolve(import.meta.dir, "../..");
export const FIXTURES = resolve(ROOT, "test/fixtures");
export const REFERENCE = resolve(ROOT, "reference");

/** Which runtime runs the server under test: IMGD_TEST_RUNTIME=deno runs the same suite on Deno. */
const RUNTIME = process.env.IMGD_TEST_RUNTIME ?? "bun";

/**
 * Which database the server under test keeps its library in: IMGD_TEST_DATABASE=postgres
 * gives every test server a fresh PostgreSQL database (see helpers/postgres.ts).
 */
const DATABASE = process.env.IMGD_TEST_DATABASE ?? "sqlite";

/** Where a test data dir notes its PostgreSQL database, so a restart on that dir finds it again. */
const DATABASE_NOTE = ".test-database-url";

export interface TestServer {
  url: string;
  adminKey: string;
  dataDir: string;
  /** The variables the server was started with beyond the test's own (its database): for CLI runs beside it. */
  env: Record<string, string>;
  /** Everything the server printed so far. */
  output: () => string;
  /** fetch relative to the server, with the admin key unless `key` says otherwise (null: none). */
  api: (path: string, init?: RequestInit & { key?: string | null }) => Promise<Response>;
  /** Stops with SIGTERM; resolves to the exit code. Removes the data dir unless `keepData`. */
  stop: (opts?: { keepData?: boolean; signal?: NodeJS.Signals }) => Promise<number>;
}

/** The command that runs imgd from source on the runtime under test (IMGD_TEST_RUNTIME). */
export function imgdCommand(): string[] {
  if (RUNTIME === "deno") return [join(ROOT, "node_modules/.bin/deno"), "run", "-A", join(ROOT, "src/main.ts")];
  return [process.execPath, join(ROOT, "src/main.ts")];
}

/** Starts `imgd serve` as its own process on a random port with a fresh (or given) data dir. */
export async function startServer(
  opts: { env?: Record<string, string>; args?: string[]; dataDir?: string } = {},
): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), "imgd-test-")));
  // IMGD_TEST_STORAGE=s3: originals and variants in the test S3 server, a prefix per data dir.
  const storageEnv: Record<string, string> =
    process.env.IMGD_TEST_STORAGE === "s3"
      ? { ...(await sharedS3()).env, IMGD_STORAGE_URL: `s3://${TEST_BUCKET}/${basename(dataDir)}` }
      : {};
  const database = await testDatabase(dataDir, opts.env);
  const proc = Bun.spawn(
    [...imgdCommand(), "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir, ...(opts.args ?? [])],
    {
      env: { ...process.env, IMGD_WORKERS: "1", ...database.env, ...storageEnv, ...opts.env },
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  let out = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    const reader = stream.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) out += dec.decode(r.value, { stream: true });
  };
  void collect(proc.stdout);
  void collect(proc.stderr);

  const started = Date.now();
  let url = "";
  while (!url) {
    const m = /imgd listening on (http:\/\/\S+)/.exec(out);
    if (m) url = m[1];
    else if (proc.exitCode !== null) throw new Error(`imgd exited with ${proc.exitCode} before listening:\n${out}`);
    else if (Date.now() - started > 30_000) {
      proc.kill();
      throw new Error(`imgd did not start within 30 s:\n${out}`);
    } else await Bun.sleep(20);
  }
  const adminKey = /Admin API key[^\n]*\n(imgsrc_\w+)/.exec(out)?.[1] ?? "";
  return {
    url,
    adminKey,
    dataDir,
    env: database.env,
    output: () => out,
    api: (path, init = {}) => {
      const { key = adminKey, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (key !== null && !headers.has("authorization")) headers.set("authorization", `Bearer ${key}`);
      return fetch(url + path, { ...rest, headers }).then(async (res) => {
        // Every answer a test gets is checked against imgd's own API document.
        // (Not for a body still streaming: the check's delay would let the client send more.)
        if (!(rest.body instanceof ReadableStream)) await checkImgdAnswer(rest.method ?? "GET", url + path, res);
        return res;
      });
    },
    async stop({ keepData = false, signal = "SIGTERM" } = {}) {
      if (proc.exitCode === null) proc.kill(signal);
      const code = await proc.exited;
      if (!keepData && !opts.dataDir) {
        await rm(dataDir, { recursive: true, force: true });
        await database.drop();
      }
      return code;
    },
  };
}

/** Removes a data dir a test made itself, and the PostgreSQL database noted in it, if any. */
export async function removeDataDir(dataDir: string) {
  const known = await readFile(join(dataDir, DATABASE_NOTE), "utf8").catch(() => null);
  if (known) {
    const name = new URL(known.trim()).pathname.slice(1);
    await admin(`drop database if exists ${name} with (force)`);
  }
  await rm(dataDir, { recursive: true, force: true });
}

/** The database variables of a test server on `dataDir` (a new PostgreSQL database, or the one it had). */
async function testDatabase(
  dataDir: string,
  env: Record<string, string> | undefined,
): Promise<{ env: Record<string, string>; drop: () => Promise<void> }> {
  if (DATABASE !== "postgres" || env?.IMGD_DATABASE_URL !== undefined) return { env: {}, drop: async () => {} };
  const note = join(dataDir, DATABASE_NOTE);
  const known = await readFile(note, "utf8").catch(() => null);
  if (known) return { env: { IMGD_DATABASE_URL: known.trim() }, drop: async () => {} };
  const db = await createTestDatabase();
  await writeFile(note, db.url);
  return { env: { IMGD_DATABASE_URL: db.url }, drop: db.drop };
}

/** A multipart upload body; `file` may be bytes or a fixture name. */
export function form(fields: Record<string, string | { bytes: Uint8Array; filename: string; type?: string }>) {
  const fd = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === "string") fd.append(name, value);
    else
      fd.append(
        name,
        new Blob([value.bytes as BlobPart], { type: value.type ?? "application/octet-stream" }),
        value.filename,
      );
  }
  return fd;
}

export async function fixture(name: string): Promise<Uint8Array> {
  return new Uint8Array(await Bun.file(join(FIXTURES, name)).arrayBuffer());
}
