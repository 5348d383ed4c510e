import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The S3-compatible test server: s3rver from npm in its own process (its memory is not the
// test's), on a random port with a temp directory. The bucket every test uses is made at start;
// tests tell themselves apart by prefix.

export const TEST_BUCKET = "imgd-test";

export interface S3TestServer {
  endpoint: string;
  /** Where s3rver keeps the objects: `<dir>/<bucket>/<key>._S3rver_object`. */
  dir: string;
  /** The AWS_* variables that reach it. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startS3(buckets: string[] = [TEST_BUCKET]): Promise<S3TestServer> {
  const dir = await mkdtemp(join(tmpdir(), "imgd-s3-"));
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "s3rver-child.ts"), dir, ...buckets], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = proc.stdout.getReader();
  let out = "";
  while (!/listening on (\S+)/.test(out)) {
    const r = await reader.read();
    if (r.done) throw new Error(`s3rver exited before listening: ${out}`);
    out += new TextDecoder().decode(r.value);
  }
  const endpoint = /listening on (\S+)/.exec(out)![1];
  return {
    endpoint,
    dir,
    env: s3Env(endpoint),
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function s3Env(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_S3_FORCE_PATH_STYLE: "true",
  };
}

let shared: Promise<S3TestServer> | null = null;
let sharedDir = process.env.IMGD_TEST_S3_DIR ?? "";

/**
 * The server a whole test run shares: the one `scripts/with-s3.ts` started (AWS_ENDPOINT_URL
 * set), or else one started now for this process and stopped when it exits.
 */
export function sharedS3(): Promise<{ env: Record<string, string> }> {
  const given = process.env.AWS_ENDPOINT_URL;
  if (given) return Promise.resolve({ env: s3Env(given) });
  shared ??= startS3().then((s) => {
    sharedDir = s.dir;
    process.on("exit", () => void s.stop());
    return s;
  });
  return shared;
}

/**
 * The objects a test server stored under its prefix, as the files s3rver keeps them in (so
 * checks that a refusal left the store as it was read them synchronously, as for a data dir).
 */
export function s3ObjectFiles(prefix: string): string[] {
  if (!sharedDir) return [];
  const root = join(sharedDir, TEST_BUCKET, prefix);
  const out: string[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith(OBJECT)) out.push(join(d, e.name).slice(root.length, -OBJECT.length));
    }
  };
  walk(root);
  return out.sort();
}

const OBJECT = "._S3rver_object";
