// The compose.yaml topology without containers, on this machine: PostgreSQL (a running server:
// IMGD_TEST_POSTGRES_URL, default postgres://imgd:imgd@127.0.0.1:5432/postgres), s3rver in
// place of MinIO, two imgd processes from source, and Debian's nginx with deploy/nginx.conf
// (loopback ports and a temp cache directory swapped in). Uploads through nginx, reads through
// both nodes and nginx's cache, prints what it saw, and stops everything.
//   bun deploy/run-local.ts
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";

const ROOT = resolve(import.meta.dir, "..");
const ADMIN_URL = process.env.IMGD_TEST_POSTGRES_URL ?? "postgres://imgd:imgd@127.0.0.1:5432/postgres";
const dir = await mkdtemp(join(tmpdir(), "imgd-deploy-"));
await chmod(dir, 0o755); // nginx's workers run as nobody when started as root
const procs: ReturnType<typeof Bun.spawn>[] = [];
const dbName = `imgd_deploy_${Date.now().toString(36)}`;

async function admin(text: string) {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

/** Starts a process and waits for a line matching `ready`; returns the match. */
async function start(name: string, cmd: string[], env: Record<string, string>, ready: RegExp) {
  const p = Bun.spawn(cmd, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe", stdin: "pipe" });
  procs.push(p);
  let out = "";
  const read = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const c of s as unknown as AsyncIterable<Uint8Array>) out += dec.decode(c);
  };
  void read(p.stdout);
  void read(p.stderr);
  for (let i = 0; i < 600; i++) {
    const m = ready.exec(out);
    if (m) return { m, out: () => out };
    if (p.exitCode !== null) throw new Error(`${name} exited: ${out}`);
    await Bun.sleep(50);
  }
  throw new Error(`${name} did not start: ${out}`);
}

const say = (s: string) => console.log(s);
try {
  await admin(`create database ${dbName} template template0 encoding 'UTF8' lc_collate 'C' lc_ctype 'C'`);
  const dbUrl = Object.assign(new URL(ADMIN_URL), { pathname: `/${dbName}` }).toString();
  say(`PostgreSQL: database ${dbName}`);

  const s3 = await start(
    "s3rver",
    [process.execPath, join(ROOT, "test/helpers/s3rver-child.ts"), join(dir, "s3"), "imgd"],
    {},
    /listening on (\S+)/,
  );
  const endpoint = s3.m[1];
  say(`s3rver (in place of MinIO): ${endpoint}, bucket imgd`);

  const common = {
    IMGD_DATABASE_URL: dbUrl,
    IMGD_STORAGE_URL: "s3://imgd/library",
    IMGD_SECRET: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    IMGD_TRUST_PROXY: "127.0.0.1/32",
    IMGD_LOCAL_CACHE_BYTES: String(64 << 20),
    IMGD_WORKERS: "1",
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_S3_FORCE_PATH_STYLE: "true",
  };
  const node = async (name: string) => {
    const n = await start(
      name,
      [process.execPath, join(ROOT, "src/main.ts"), "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", join(dir, name)],
      common,
      /imgd listening on (http:\/\/\S+)/,
    );
    return { url: n.m[1], out: n.out };
  };
  const a = await node("imgd-a");
  const b = await node("imgd-b");
  const key = /Admin API key[^\n]*\n(imgsrc_\w+)/.exec(a.out() + b.out())?.[1];
  if (!key) throw new Error("no admin key printed");
  say(`imgd-a ${a.url}, imgd-b ${b.url}`);

  const port = 20000 + Math.floor(Math.random() * 20000);
  const conf = (await readFile(join(import.meta.dir, "nginx.conf"), "utf8"))
    .replace("worker_processes auto;", `worker_processes 1;\ndaemon off;\npid ${dir}/nginx.pid;\nerror_log stderr;`)
    .replace("server imgd-a:8080", `server ${new URL(a.url).host}`)
    .replace("server imgd-b:8080", `server ${new URL(b.url).host}`)
    .replace("/var/cache/nginx/imgd", join(dir, "nginx-cache"))
    .replace("listen 80;", `listen 127.0.0.1:${port};\n    client_body_temp_path ${dir}/nginx-body;\n    proxy_temp_path ${dir}/nginx-proxy;`);
  await writeFile(join(dir, "nginx.conf"), conf);
  await start("nginx", ["/usr/sbin/nginx", "-c", join(dir, "nginx.conf"), "-p", dir, "-e", "stderr"], {}, /^/);
  const front = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !(await fetch(`${front}/health`).then((r) => r.ok, () => false)); i++) await Bun.sleep(50);
  say(`nginx in front: ${front}`);

  for (const [n, u] of [["imgd-a", a.url], ["imgd-b", b.url]]) {
    const r = await fetch(`${u}/ready`);
    say(`${n} /ready: ${r.status} ${await r.text()}`);
  }
  const sharp = (await import("sharp")).default;
  const png = await sharp({ create: { width: 640, height: 480, channels: 3, background: "#c04020" } }).png().toBuffer();
  const fd = new FormData();
  fd.append("file", new Blob([new Uint8Array(png)], { type: "image/png" }), "photo.png");
  const up = await fetch(`${front}/api/v1/images`, { method: "POST", body: fd, headers: { authorization: `Bearer ${key}` } });
  say(`upload through nginx: ${up.status}`);
  for (const [where, base] of [["nginx", front], ["nginx", front], ["imgd-b", b.url], ["imgd-a", a.url]]) {
    const r = await fetch(`${base}/i/admin/photo.webp?w=320`);
    const body = new Uint8Array(await r.arrayBuffer());
    if (r.status !== 200) throw new Error(`${where}: ${r.status} ${new TextDecoder().decode(body).slice(0, 300)}`);
    const meta = await sharp(body).metadata();
    say(
      `GET /i/admin/photo.webp?w=320 via ${where}: ${r.status} ${meta.format} ${meta.width}x${meta.height} ` +
        `x-cache=${r.headers.get("x-cache")} nginx=${r.headers.get("x-cache-status") ?? "-"}`,
    );
  }
} finally {
  for (const p of procs.reverse()) {
    p.kill("SIGTERM");
    await p.exited;
  }
  await admin(`drop database if exists ${dbName} with (force)`).catch(() => {});
  await rm(dir, { recursive: true, force: true });
}
