import { existsSync, readdirSync } from "node:fs";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { admin } from "../helpers/postgres.ts";
import { s3Env, TEST_BUCKET } from "../helpers/s3.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

// A private world for a fault test: its own PostgreSQL cluster (initdb in a temp dir, a free
// loopback port), its own s3rver (restartable on the same port), an optional slow proxy in
// front of it, and two imgd nodes on both. Stopping or slowing any of them disturbs no other test.

/** The directory of PostgreSQL's server programs (initdb, pg_ctl), or null when none is installed. */
export function postgresBin(): string | null {
  const given = process.env.IMGD_TEST_POSTGRES_BIN;
  if (given) return given;
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, "bin", "initdb")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length) return join(root, versions[0], "bin");
  }
  const which = Bun.which("initdb");
  return which && Bun.which("pg_ctl") ? which.slice(0, which.lastIndexOf("/")) : null;
}

/**
 * Whether the fault tests can run here: CI (IMGD_TEST_POSTGRES_URL set) must have the programs,
 * elsewhere their absence skips the tests with the reason printed.
 */
export function faultTestsRunnable(what: string): boolean {
  if (postgresBin()) return true;
  const why = "no PostgreSQL server programs (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or on PATH";
  if (process.env.IMGD_TEST_POSTGRES_URL) throw new Error(`${what}: ${why}; .ci/run installs the postgresql package`);
  console.warn(`skipping ${what}: ${why}; .ci/run installs them`);
  return false;
}

export async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

async function run(cmd: string[], asUser: string | null) {
  const argv = asUser ? ["runuser", "-u", asUser, "--", ...cmd] : cmd;
  const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited with ${code}: ${err || out}`);
  return out;
}

export interface PrivatePostgres {
  /** The database the nodes use. */
  url: string;
  /** SQL on that database. */
  query<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
  /** `pg_ctl stop -m fast`: every session is terminated, as in a restart or a failover. */
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * initdb in a temp dir and a postmaster on a free port of 127.0.0.1. PostgreSQL refuses to run
 * as root: under root (CI) the cluster belongs to the `postgres` user and runs as it.
 */
export async function startPostgres(): Promise<PrivatePostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error("no PostgreSQL server programs");
  const asUser = process.getuid?.() === 0 ? "postgres" : null;
  const dir = await mkdtemp(join(tmpdir(), "imgd-faults-pg-"));
  if (asUser) {
    const uid = Number((await run(["id", "-u", asUser], null)).trim());
    const gid = Number((await run(["id", "-g", asUser], null)).trim());
    await chown(dir, uid, gid);
  }
  const data = join(dir, "data");
  const port = await freePort();
  await run(
    [join(bin, "initdb"), "-D", data, "-U", "imgd", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
    asUser,
  );
  const opts = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  const pgctl = (...args: string[]) =>
    run([join(bin, "pg_ctl"), "-D", data, "-l", join(dir, "log"), "-w", "-t", "60", ...args], asUser);
  const start = async () => void (await pgctl("-o", opts, "start"));
  await start();
  const server = `postgres://imgd@127.0.0.1:${port}/postgres`;
  await admin("create database imgd template template0 encoding 'UTF8' lc_collate 'C' lc_ctype 'C'", [], server);
  const url = `postgres://imgd@127.0.0.1:${port}/imgd`;
  let running = true;
  return {
    url,
    query: (sql, params = []) => admin(sql, params, url),
    async stop() {
      await pgctl("-m", "fast", "stop");
      running = false;
    },
    async start() {
      await start();
      running = true;
    },
    async destroy() {
      if (running) await pgctl("-m", "immediate", "stop").catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface RestartableS3 {
  endpoint: string;
  env: Record<string, string>;
  /** SIGKILL: the bucket's files stay, nothing answers on the port. */
  kill(): Promise<void>;
  /** Back on the same port with the same files. */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startRestartableS3(): Promise<RestartableS3> {
  const dir = await mkdtemp(join(tmpdir(), "imgd-faults-s3-"));
  const port = await freePort();
  let proc: ReturnType<typeof Bun.spawn> | null = null;
  const start = async () => {
    const p = Bun.spawn([process.execPath, join(import.meta.dir, "../helpers/s3rver-child.ts"), dir, TEST_BUCKET], {
      env: { ...process.env, IMGD_S3RVER_PORT: String(port) },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "inherit",
    });
    const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
    let out = "";
    while (!out.includes("listening on")) {
      const r = await reader.read();
      if (r.done) throw new Error(`s3rver exited before listening: ${out}`);
      out += new TextDecoder().decode(r.value);
    }
    reader.releaseLock();
    proc = p;
  };
  await start();
  const endpoint = `http://127.0.0.1:${port}`;
  const kill = async () => {
    const p = proc;
    proc = null;
    if (!p) return;
    p.kill("SIGKILL");
    await p.exited;
  };
  return {
    endpoint,
    env: s3Env(endpoint),
    kill,
    start,
    async destroy() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface SlowProxy {
  endpoint: string;
  /** Milliseconds added before every answer is passed on (0: none). */
  delayMs: number;
  stop(): void;
}

/** An HTTP proxy on loopback in front of S3 that holds every answer for `delayMs`. */
export function startSlowProxy(upstream: string): SlowProxy {
  const proxy: SlowProxy = { endpoint: "", delayMs: 0, stop: () => server.stop(true) };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const u = new URL(req.url);
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
      // The signature covers the Host the client saw: it is passed on as it came.
      const res = await fetch(upstream + u.pathname + u.search, {
        method: req.method,
        headers: req.headers,
        body,
        redirect: "manual",
        decompress: false,
      } as RequestInit);
      const bytes = req.method === "HEAD" ? null : await res.arrayBuffer();
      if (proxy.delayMs) await Bun.sleep(proxy.delayMs);
      const headers = new Headers(res.headers);
      headers.delete("transfer-encoding");
      headers.delete("content-encoding");
      return new Response(bytes, { status: res.status, headers });
    },
  });
  proxy.endpoint = `http://127.0.0.1:${server.port}`;
  return proxy;
}

export interface Cluster {
  pg: PrivatePostgres;
  s3: RestartableS3;
  proxy: SlowProxy | null;
  nodes: [TestServer, TestServer];
  key: string;
  prefix: string;
  /** Object keys under the cluster's prefix (listed through S3 itself). */
  objects(): Promise<string[]>;
  destroy(): Promise<void>;
}

/** PostgreSQL, s3rver (behind a slow proxy when `slowProxy`), and two nodes on both. */
export async function startCluster(opts: { slowProxy?: boolean; env?: Record<string, string> } = {}): Promise<Cluster> {
  const [pg, s3] = await Promise.all([startPostgres(), startRestartableS3()]);
  const proxy = opts.slowProxy ? startSlowProxy(s3.endpoint) : null;
  const prefix = `faults-${Date.now().toString(36)}`;
  const dirs = [await mkdtemp(join(tmpdir(), "imgd-faults-a-")), await mkdtemp(join(tmpdir(), "imgd-faults-b-"))];
  const env = {
    ...s3Env(proxy?.endpoint ?? s3.endpoint),
    IMGD_STORAGE_URL: `s3://${TEST_BUCKET}/${prefix}`,
    IMGD_DATABASE_URL: pg.url,
    IMGD_VARIANT_LEASE_MS: "2000",
    IMGD_MEMORY_CACHE_BYTES: String(16 * 1024 * 1024),
    // Above the slow proxy's 2 s, and long enough for s3rver on a busy machine: a PUT given up
    // while s3rver still writes it, then deleted, can crash s3rver.
    IMGD_STORAGE_TIMEOUT_MS: "20000",
    ...opts.env,
  };
  const a = await startServer({ dataDir: dirs[0], env });
  const b = await startServer({ dataDir: dirs[1], env });
  const objects = async () => {
    const { AwsClient } = await import("aws4fetch");
    const aws = new AwsClient({ accessKeyId: "S3RVER", secretAccessKey: "S3RVER", region: "us-east-1", service: "s3" });
    const keys: string[] = [];
    let token = "";
    do {
      const q = new URLSearchParams({ "list-type": "2", prefix: `${prefix}/` });
      if (token) q.set("continuation-token", token);
      const xml = await (await aws.fetch(`${s3.endpoint}/${TEST_BUCKET}/?${q}`)).text();
      for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(m[1].slice(prefix.length + 1));
      token = /<IsTruncated>true<\/IsTruncated>/.test(xml)
        ? (/<NextContinuationToken>([^<]*)</.exec(xml)?.[1] ?? "")
        : "";
    } while (token);
    return keys.sort();
  };
  return {
    pg,
    s3,
    proxy,
    nodes: [a, b],
    key: a.adminKey,
    prefix,
    objects,
    async destroy() {
      await Promise.all([a.stop(), b.stop()]);
      proxy?.stop();
      await Promise.all([pg.destroy(), s3.destroy()]);
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    },
  };
}

/** Whether a node's process still runs (a crashed one has printed why). */
export async function nodeAlive(node: TestServer): Promise<boolean> {
  try {
    await fetch(`${node.url}/health`, { signal: AbortSignal.timeout(5000) });
    return true;
  } catch {
    return false;
  }
}

/** A node's output where it says what failed (internal errors, fatal exits), for a failing test's log. */
export function whatWentWrong(output: string): string {
  const lines = output.split("\n");
  const out: string[] = [];
  for (const [i, line] of lines.entries())
    if (/internal error|fatal/.test(line)) out.push(...lines.slice(i, i + 12), "…");
  return out.length ? out.join("\n") : output.slice(-1500);
}
