import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode, makeImage } from "../helpers/images.ts";
import { admin, createTestDatabase, POSTGRES_URL, type TestDatabase } from "../helpers/postgres.ts";
import { s3ObjectFiles, sharedS3, TEST_BUCKET } from "../helpers/s3.ts";
import { form, imgdCommand, startServer, type TestServer } from "../helpers/server.ts";
import { tenant } from "../metering/helpers.ts";

// Two imgd processes on one PostgreSQL database and one S3 bucket, each with a data directory
// of its own (nodes are stateless): what one node does, the other sees; work one node must do
// alone is done once.

const reachable = await admin("select 1", []).then(
  () => true,
  (err) => {
    // CI names its server (IMGD_TEST_POSTGRES_URL): there, a missing one is a failure, not a skip.
    if (process.env.IMGD_TEST_POSTGRES_URL) throw err;
    console.warn(
      `skipping the two-node test: no PostgreSQL at ${POSTGRES_URL} (${(err as Error).message}); .ci/run starts one`,
    );
    return false;
  },
);

let db: TestDatabase;
let dataDirs: string[];
let prefix: string;
let a: TestServer;
let b: TestServer;
let key: string;

const q = <T = any>(sql: string, params: unknown[] = []) => admin<T>(sql, params, db.url);

beforeAll(async () => {
  if (!reachable) return;
  db = await createTestDatabase();
  dataDirs = [await mkdtemp(join(tmpdir(), "imgd-cluster-a-")), await mkdtemp(join(tmpdir(), "imgd-cluster-b-"))];
  prefix = `cluster-${Date.now().toString(36)}`;
  const env = {
    ...(await sharedS3()).env,
    IMGD_STORAGE_URL: `s3://${TEST_BUCKET}/${prefix}`,
    IMGD_DATABASE_URL: db.url,
    // Short, so that a killed node's claim lapses quickly.
    IMGD_VARIANT_LEASE_MS: "2000",
    IMGD_REGISTRATION: "open",
    IMGD_PLANS: JSON.stringify({
      team: { requests_per_minute: 10 },
      small: { uploads_per_month: 5, storage_bytes: 10_000_000 },
    }),
    IMGD_MEMORY_CACHE_BYTES: String(16 * 1024 * 1024),
  };
  a = await startServer({ dataDir: dataDirs[0], env });
  b = await startServer({ dataDir: dataDirs[1], env });
  key = a.adminKey;
  expect(key).toMatch(/^imgsrc_/);
  // The second node found the admin and the secret the first one made: it made neither.
  expect(b.adminKey).toBe("");
});

afterAll(async () => {
  if (!reachable) return;
  await Promise.all([a?.stop(), b?.stop()]);
  await db.drop();
  for (const d of dataDirs) await rm(d, { recursive: true, force: true });
});

const upload = async (s: TestServer, bytes: Uint8Array, path: string) => {
  const res = await s.api("/api/v1/images", {
    method: "POST",
    key,
    body: form({ file: { bytes, filename: path.split("/").pop()! }, target_path: path }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string };
};

const variantFiles = async () => s3ObjectFiles(prefix).filter((p) => p.startsWith("/variants/"));

const transformations = async () =>
  Number(
    (
      await q<{ n: number }>("select coalesce(sum(value), 0) as n from usage_counters where metric = 'transformations'")
    )[0].n,
  );

describe.skipIf(!reachable)("two nodes on one PostgreSQL", () => {
  test("/health names the database and the storage; /ready answers on both", async () => {
    for (const s of [a, b]) {
      const h = (await (await s.api("/health", { key: null })).json()) as any;
      expect(h).toMatchObject({ status: "ok", database: "postgres", storage: "s3" });
      const r = await s.api("/ready", { key: null });
      expect(r.status).toBe(200);
      expect(((await r.json()) as any).database).toEqual({ kind: "postgres", ok: true });
    }
  });

  test("an upload on A is delivered by B; a URL signed by A verifies on B", async () => {
    await upload(a, await makeImage(640, 480, "jpg"), "shared/one.jpg");
    const res = await b.api("/i/admin/shared/one.webp?w=200", { key: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/webp");
    const img = await decode(new Uint8Array(await res.arrayBuffer()));
    expect({ format: img.format, width: img.width, height: img.height }).toEqual({
      format: "webp",
      width: 200,
      height: 150,
    });

    const priv = await upload(a, await makeImage(320, 240, "png"), "shared/private.png");
    const vis = await a.api(`/api/v1/images/${priv.id}/visibility`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ visibility: "private" }),
    });
    expect(vis.status).toBe(200);
    expect((await b.api("/i/admin/shared/private.png", { key: null })).status).toBe(403);
    const signed = (await (
      await a.api(`/api/v1/images/${priv.id}/signed-url`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ expires_in_seconds: 600 }),
      })
    ).json()) as { signed_url: string };
    const url = new URL(signed.signed_url);
    const onB = await fetch(b.url + url.pathname + url.search);
    expect(onB.status).toBe(200);
    expect((await decode(new Uint8Array(await onB.arrayBuffer()))).width).toBe(320);
  });

  test("a delete on A gives 404 on B within a second", async () => {
    const img = await upload(a, await makeImage(300, 200, "jpg"), "shared/gone.jpg");
    // B remembers the answer (its hot path) before the delete.
    for (let i = 0; i < 3; i++) expect((await b.api("/i/admin/shared/gone.jpg?w=100", { key: null })).status).toBe(200);
    expect((await a.api(`/api/v1/images/${img.id}`, { method: "DELETE" })).status).toBe(200);
    const deleted = performance.now();
    let status = 200;
    while (performance.now() - deleted < 3000) {
      status = (await b.api("/i/admin/shared/gone.jpg?w=100", { key: null })).status;
      if (status === 404) break;
      await Bun.sleep(25);
    }
    expect(status).toBe(404);
    expect(performance.now() - deleted).toBeLessThan(1000);
  });

  test("a purge on A: B answers the new ETag (its memory and hot path forget the old one)", async () => {
    const img = await upload(a, await makeImage(300, 200, "jpg"), "shared/purged.jpg");
    const url = "/i/admin/shared/purged.webp?w=120";
    const first = await b.api(url, { key: null });
    expect(first.status).toBe(200);
    const old = first.headers.get("etag")!;
    // B holds it in memory and on its hot path: a 304 for the old tag.
    for (let i = 0; i < 3; i++)
      expect((await b.api(url, { key: null, headers: { "If-None-Match": old } })).status).toBe(304);
    const purged = await a.api(`/api/v1/images/${img.id}/purge`, { method: "POST" });
    expect(purged.status).toBe(200);
    // Bounded wait for the notice to reach B (milliseconds; not asserted as a time).
    let res = await b.api(url, { key: null, headers: { "If-None-Match": old } });
    for (let i = 0; i < 120 && res.status === 304; i++) {
      await Bun.sleep(25);
      res = await b.api(url, { key: null, headers: { "If-None-Match": old } });
    }
    expect(res.status).toBe(200);
    const fresh = res.headers.get("etag")!;
    expect(fresh).not.toBe(old);
    const d = await decode(new Uint8Array(await res.arrayBuffer()));
    expect([d.format, d.width, d.height]).toEqual(["webp", 120, 80]);
    // A answers the same new tag.
    const onA = await a.api(url, { key: null });
    expect(onA.headers.get("etag")).toBe(fresh);
    expect((await a.api(`/i/admin/shared/purged.jpg`, { key: null })).headers.get("etag")).not.toBe(
      first.headers.get("etag"),
    );
  });

  test("20 concurrent first requests for one new variant, split over A and B: one transformation, one object", async () => {
    await upload(a, await makeImage(1200, 900, "jpg"), "shared/hot.jpg");
    const before = { made: await transformations(), files: (await variantFiles()).length };
    const rows = (await q<{ n: number }>("select count(*) as n from variants"))[0].n;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).api("/i/admin/shared/hot.avif?w=300", { key: null })),
    );
    const bodies = await Promise.all(answers.map(async (r) => new Uint8Array(await r.arrayBuffer())));
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
    for (const body of bodies) expect(Buffer.from(body).equals(Buffer.from(bodies[0]))).toBe(true);
    const img = await decode(bodies[0]);
    expect({ format: img.format, width: img.width, height: img.height }).toEqual({
      format: "avif",
      width: 300,
      height: 225,
    });
    expect((await transformations()) - before.made).toBe(1);
    expect((await q<{ n: number }>("select count(*) as n from variants"))[0].n - rows).toBe(1);
    expect((await variantFiles()).length - before.files).toBe(1);
    // No claim is left behind.
    expect(await q("select name from leases where name like 'variant:%'")).toEqual([]);
  });

  test("a rate limit of 10 per minute allows exactly 10 across both nodes", async () => {
    const t = await tenant(a, "team");
    // One fixed window: not across a minute's end.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await Bun.sleep(60_000 - intoMinute + 100);
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).api("/api/v1/images", { key: t.key })),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBe(10);
    expect(statuses.filter((s) => s === 429).length).toBe(14);
  });

  test("a plan of 5 uploads a month allows exactly 5 of 16 concurrent uploads across both nodes", async () => {
    const t = await tenant(a, "small");
    const images = await Promise.all(Array.from({ length: 16 }, (_, i) => makeImage(40 + i, 30, "png")));
    const answers = await Promise.all(
      images.map((bytes, i) =>
        (i % 2 ? a : b).api("/api/v1/images", {
          method: "POST",
          key: t.key,
          body: form({ file: { bytes, filename: `q${i}.png` } }),
        }),
      ),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 201).length).toBe(5);
    expect(statuses.filter((s) => s !== 201).every((s) => s === 429 || s === 403)).toBe(true);
    const listed = (await (await b.api("/api/v1/images", { key: t.key })).json()) as { total: number };
    expect(listed.total).toBe(5);
    const counted = await q<{ value: number }>(
      "select value from usage_counters c join users u on u.id = c.user_id where u.username = $1 and c.metric = 'uploads'",
      [t.username],
    );
    expect(counted.map((r) => Number(r.value))).toEqual([5]);
  });

  test("the CLI works on the same database through IMGD_DATABASE_URL; backup says it is for SQLite", async () => {
    const cwd = await mkdtemp(join(tmpdir(), "imgd-cli-"));
    try {
      const env = { ...process.env, IMGD_DATABASE_URL: db.url, IMGD_DATA_DIR: "" };
      const made = Bun.spawnSync([...imgdCommand(), "keys", "create", "--name", "from-cli"], { cwd, env });
      expect(made.exitCode).toBe(0);
      const cliKey = made.stdout.toString().trim();
      expect(cliKey).toMatch(/^imgsrc_/);
      for (const s of [a, b]) expect((await s.api("/api/v1/images", { key: cliKey })).status).toBe(200);
      const backup = Bun.spawnSync([...imgdCommand(), "backup", join(cwd, "backup")], { cwd, env });
      expect(backup.exitCode).toBe(1);
      expect(backup.stderr.toString()).toContain("pg_dump");
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  test("/ready is 503 while the database refuses connections, and 200 again after", async () => {
    await admin(`alter database ${db.name} allow_connections false`);
    try {
      await admin("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1", [db.name]);
      const r = await b.api("/ready", { key: null });
      expect(r.status).toBe(503);
      const body = (await r.json()) as any;
      expect(body.database.ok).toBe(false);
      expect(body.storage).toEqual({ kind: "s3", ok: true });
      // Liveness is not readiness: the process still answers.
      expect((await b.api("/health", { key: null })).status).toBe(200);
      // What needs the database is a 503 to retry, not a 500.
      const list = await b.api("/api/v1/images", { key });
      expect(list.status).toBe(503);
      expect(list.headers.get("retry-after")).toBe("2");
    } finally {
      await admin(`alter database ${db.name} allow_connections true`);
    }
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await b.api("/ready", { key: null })).status;
      if (status !== 200) await Bun.sleep(50);
    }
    expect(status).toBe(200);
    expect((await a.api("/ready", { key: null })).status).toBe(200);
  });

  test("A killed (SIGKILL) mid-transform: B takes over its lease and answers", async () => {
    await upload(a, await makeImage(2400, 1800, "jpg"), "shared/slow.jpg");
    const path = "/i/admin/shared/slow.avif?w=1200";
    const onA = a.api(path, { key: null }).catch(() => null);
    // A holds the claim while it transforms.
    let held: { holder: string }[] = [];
    for (let i = 0; i < 400 && held.length === 0; i++) {
      held = await q("select holder from leases where name like 'variant:%'");
      if (held.length === 0) await Bun.sleep(10);
    }
    expect(held.length).toBe(1);
    await a.stop({ keepData: true, signal: "SIGKILL" });
    await onA;
    const started = performance.now();
    const res = await b.api(path, { key: null });
    expect(res.status).toBe(200);
    const img = await decode(new Uint8Array(await res.arrayBuffer()));
    expect({ format: img.format, width: img.width, height: img.height }).toEqual({
      format: "avif",
      width: 1200,
      height: 900,
    });
    // B waited for A's claim to lapse (2 s unrenewed), then made it itself.
    expect(performance.now() - started).toBeGreaterThan(500);
    const now = await q<{ holder: string }>("select holder from leases where name like 'variant:%'");
    expect(now).toEqual([]);
  }, 120_000);
});
