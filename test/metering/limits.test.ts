import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { makeImage } from "../helpers/images.ts";
import { form, startServer, type TestServer } from "../helpers/server.ts";
import { query, snapshot } from "../helpers/store.ts";
import { nativeError, PLANS, tenant } from "./helpers.ts";

// Monthly plan limits in the native (PLAN_LIMIT_EXCEEDED) and img.pro (quota_exceeded) words,
// exact under concurrency, kept across restarts and reset by the month's turn.

// A queue long enough that the plan, not the worker queue, decides every upload.
const ENV = { IMGD_REGISTRATION: "open", IMGD_PLANS: PLANS, IMGD_QUEUE_LIMIT: "256" };
let s: TestServer;
beforeAll(async () => {
  s = await startServer({ env: ENV });
});
afterAll(() => s.stop());

const upload = (key: string, bytes: Uint8Array, name: string) =>
  s.api("/api/v1/images", { method: "POST", key, body: form({ file: { bytes, filename: name } }) });
const userImages = (email: string) =>
  query<{ n: number }>(
    s.dataDir,
    "select count(*) as n from images join users on users.id = images.user_id where users.email = ?",
    email,
  )[0].n;
const usage = async (key: string, server = s) => (await (await server.api("/api/v1/usage", { key })).json()) as any;

describe("uploads", () => {
  test("100 concurrent uploads against a limit of 10 store exactly 10", async () => {
    const t = await tenant(s, "up10");
    const images = await Promise.all(Array.from({ length: 100 }, (_, i) => makeImage(20 + i, 17, "png")));
    const res = await Promise.all(images.map((b, i) => upload(t.key, b, `c${i}.png`)));
    const statuses = res.map((r) => r.status);
    expect(statuses.filter((x) => x === 201).length).toBe(10);
    expect(statuses.filter((x) => x === 403).length).toBe(90);
    const refused = res.find((r) => r.status === 403)!;
    expect((await refused.json()).error.code).toBe("PLAN_LIMIT_EXCEEDED");
    expect(userImages(t.email)).toBe(10);
    const u = await usage(t.key);
    expect(u.current_period.uploads).toBe(10);
    expect(u.plan_limits.max_uploads_per_month).toBe(10);
    expect(u.total_images).toBe(10);
    // img.pro says the same refusal in its words, with its quota headers.
    const r = await s.api("/v1/upload", {
      method: "POST",
      key: t.key,
      body: form({ file: { bytes: await makeImage(9, 9, "png"), filename: "x.png" } }),
    });
    expect(r.status).toBe(403);
    expect((await r.json()).error.code).toBe("quota_exceeded");
    expect(r.headers.get("X-Monthly-Uploads-Used")).toBe("10");
    expect(r.headers.get("X-Monthly-Uploads-Limit")).toBe("10");
    expect(r.headers.get("X-Monthly-Uploads-Remaining")).toBe("0");
  });

  test("storage running out in the middle of a multipart body stores nothing (native and img.pro)", async () => {
    const t = await tenant(s, "tiny");
    const small = await makeImage(8, 8, "png");
    expect((await upload(t.key, small, "small.png")).status).toBe(201);
    const big = await makeImage(300, 200, "png");
    expect(big.byteLength).toBeGreaterThan(3000);
    const before = snapshot(s.dataDir);
    const e = await nativeError(await upload(t.key, big, "big.png"), 403, "PLAN_LIMIT_EXCEEDED");
    expect(e.message).toContain("Storage limit");
    const r = await s.api("/v1/upload", {
      method: "POST",
      key: t.key,
      body: form({ file: { bytes: big, filename: "big.png" }, name: "late field" }),
    });
    expect(r.status).toBe(403);
    expect((await r.json()).error.code).toBe("quota_exceeded");
    for (let i = 0; i < 50 && JSON.stringify(snapshot(s.dataDir)) !== JSON.stringify(before); i++) await Bun.sleep(20);
    expect(snapshot(s.dataDir)).toEqual(before);
    expect((await usage(t.key)).current_period.uploads).toBe(1);
  });

  test("the plan's upload size limit refuses a larger file; a smaller one passes", async () => {
    const t = await tenant(s, "small");
    const big = await makeImage(300, 200, "png");
    await nativeError(await upload(t.key, big, "big.png"), 413, "PAYLOAD_TOO_LARGE");
    expect((await upload(t.key, await makeImage(8, 8, "png"), "ok.png")).status).toBe(201);
    expect((await usage(t.key)).other_limits.max_upload_bytes).toBe(2000);
  });
});

test("monthly API requests: the sixth of five is refused, in each dialect's words, and costs nothing", async () => {
  const t = await tenant(s, "calls5");
  for (let i = 0; i < 4; i++) expect((await s.api("/api/v1/images", { key: t.key })).status).toBe(200);
  expect((await s.api("/v1/media", { key: t.key })).status).toBe(200);
  await nativeError(await s.api("/api/v1/images", { key: t.key }), 403, "PLAN_LIMIT_EXCEEDED");
  const r = await s.api("/v1/media", { key: t.key });
  expect(r.status).toBe(403);
  expect((await r.json()).error.code).toBe("quota_exceeded");
  const row = query<{ value: number }>(
    s.dataDir,
    "select value from usage_counters join users on users.id = usage_counters.user_id where users.email = ? and metric = 'api_requests'",
    t.email,
  );
  expect(row[0].value).toBe(5);
});

test("transformations: a new variant over the plan is refused (403); cached variants are still served", async () => {
  const t = await tenant(s, "tf1");
  expect((await upload(t.key, await makeImage(64, 48, "jpg"), "tf.jpg")).status).toBe(201);
  // Made with the owner's key: on a plan of one, that one is kept for the owner (IMGD_OWNER_RESERVE).
  const first = await fetch(`${s.url}/i/${t.username}/tf.webp?w=32`, { headers: { authorization: `Bearer ${t.key}` } });
  expect(first.status).toBe(200);
  expect(first.headers.get("X-Cache")).toBe("MISS");
  await first.arrayBuffer();
  await nativeError(await fetch(`${s.url}/i/${t.username}/tf.webp?w=20`), 403, "PLAN_LIMIT_EXCEEDED");
  await nativeError(await fetch(`${s.url}/i/${t.username}/tf.png?w=32`), 403, "PLAN_LIMIT_EXCEEDED");
  for (let i = 0; i < 3; i++) {
    const again = await fetch(`${s.url}/i/${t.username}/tf.webp?w=32`);
    expect(again.status).toBe(200);
    expect(again.headers.get("X-Cache")).toBe("HIT");
    expect((await again.arrayBuffer()).byteLength).toBeGreaterThan(0);
  }
  // The original needs no transformation either.
  expect((await fetch(`${s.url}/i/${t.username}/tf.jpg`)).status).toBe(200);
  expect((await usage(t.key)).current_period.transformations).toBe(1);
});

test("counters survive a restart and reset when the month turns", async () => {
  const dataDir = (await import("node:fs/promises")).mkdtemp(`${(await import("node:os")).tmpdir()}/imgd-meter-`);
  const dir = await dataDir;
  const a = await startServer({ env: ENV, dataDir: dir });
  const t = await tenant(a, "up10");
  for (let i = 0; i < 10; i++) {
    expect(
      (
        await a.api("/api/v1/images", {
          method: "POST",
          key: t.key,
          body: form({ file: { bytes: await makeImage(10 + i, 10, "png"), filename: `r${i}.png` } }),
        })
      ).status,
    ).toBe(201);
  }
  const before = (await usage(t.key, a)).current_period;
  await a.stop({ keepData: true });

  const b = await startServer({ env: ENV, dataDir: dir });
  const after = (await usage(t.key, b)).current_period;
  // One more API request: the usage call itself.
  expect({ ...after, api_requests: after.api_requests - 1 }).toEqual(before);
  await nativeError(
    await b.api("/api/v1/images", {
      method: "POST",
      key: t.key,
      body: form({ file: { bytes: await makeImage(50, 10, "png"), filename: "x.png" } }),
    }),
    403,
    "PLAN_LIMIT_EXCEEDED",
  );
  await b.stop({ keepData: true });

  // 40 days on: a new month, fresh counters, uploads allowed again.
  const c = await startServer({ env: { ...ENV, IMGD_TEST_CLOCK_OFFSET_MS: String(40 * 86_400_000) }, dataDir: dir });
  const next = (await usage(t.key, c)).current_period;
  expect(next.period).not.toBe(before.period);
  expect(next.uploads).toBe(0);
  expect(next.period_start).toBeGreaterThan(before.period_start);
  expect(
    (
      await c.api("/api/v1/images", {
        method: "POST",
        key: t.key,
        body: form({ file: { bytes: await makeImage(51, 10, "png"), filename: "y.png" } }),
      })
    ).status,
  ).toBe(201);
  expect((await usage(t.key, c)).current_period.uploads).toBe(1);
  await c.stop({ keepData: true });
  await (await import("node:fs/promises")).rm(dir, { recursive: true, force: true });
});
