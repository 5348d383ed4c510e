import { afterAll, beforeAll, expect, test } from "bun:test";
import { decode, makeImage, pixel } from "../helpers/images.ts";
import { form, startServer, type TestServer } from "../helpers/server.ts";
import { nativeError, PLANS, tenant } from "./helpers.ts";

// The AssetsRepo dialect's whole error table, its headers, and its monthly views.

let s: TestServer;
let t: Awaited<ReturnType<typeof tenant>>;
let original: Uint8Array;
beforeAll(async () => {
  s = await startServer({ env: { IMGD_REGISTRATION: "open", IMGD_PLANS: PLANS } });
  t = await tenant(s, "views2");
  original = await makeImage(120, 80, "png");
  const up = await s.api("/api/v1/images", {
    method: "POST",
    key: t.key,
    body: form({ file: { bytes: original, filename: "hero.png" }, target_path: "illustrations/hero.png" }),
  });
  expect(up.status).toBe(201);
});
afterAll(() => s.stop());

const get = (path: string, key: string | null = t.key) => s.api(`/api/images/${path}`, { key });
const views = async (key = t.key) => (await (await s.api("/api/v1/usage", { key })).json()).current_period.views;

test("errors: 400 key in the URL or bad path, 401 missing/invalid/deleted key, 403 no access, 404 unknown path; none costs a view", async () => {
  await nativeError(await get(`illustrations/hero.png?api_key=${t.key}`), 400, "VALIDATION_ERROR");
  await nativeError(await get(`illustrations/hero.png?key=${t.key}`, null), 400, "VALIDATION_ERROR");
  await nativeError(await get("illustrations/a%00b.png"), 400, "VALIDATION_ERROR");
  await nativeError(await get("illustrations/hero.png", null), 401, "UNAUTHORIZED");
  await nativeError(await get("illustrations/hero.png", "imgsrc_notAKeyAtAll"), 401, "UNAUTHORIZED");
  const created = await (
    await s.api("/api/v1/settings/api-keys", {
      method: "POST",
      key: t.key,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "temp" }),
    })
  ).json();
  expect((await get("illustrations/hero.png", created.key)).status).toBe(200);
  expect((await s.api(`/api/v1/settings/api-keys/${created.id}`, { method: "DELETE", key: t.key })).status).toBe(200);
  await nativeError(await get("illustrations/hero.png", created.key), 401, "UNAUTHORIZED");
  const writeOnly = await (
    await s.api("/api/v1/settings/api-keys", {
      method: "POST",
      key: t.key,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "w", scopes: ["write"] }),
    })
  ).json();
  await nativeError(await get("illustrations/hero.png", writeOnly.key), 403, "FORBIDDEN");
  const none = await tenant(s, "noviews");
  await nativeError(await get("anything.png", none.key), 404, "NOT_FOUND");
  await s.api("/api/v1/images", {
    method: "POST",
    key: none.key,
    body: form({ file: { bytes: original, filename: "n.png" } }),
  });
  await nativeError(await get("n.png", none.key), 403, "FORBIDDEN");
  await nativeError(await get("illustrations/nope.png"), 404, "NOT_FOUND");
  // Another tenant's path is not found through this key.
  await nativeError(await get("illustrations/hero.png", none.key), 404, "NOT_FOUND");
  // Only the one good view above was counted.
  expect(await views()).toBe(1);
});

test("serves the image with options, one-year immutable caching and its type; views over the plan get 429", async () => {
  const before = await views();
  expect(before).toBe(1);
  const r = await get("illustrations/hero.webp?w=60");
  expect(r.status).toBe(200);
  expect(r.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
  expect(r.headers.get("Content-Type")).toBe("image/webp");
  const bytes = new Uint8Array(await r.arrayBuffer());
  expect(await decode(bytes)).toMatchObject({ format: "webp", width: 60, height: 40 });
  // The gradient runs left to right: red grows.
  expect((await pixel(bytes, 55, 20))[0]).toBeGreaterThan((await pixel(bytes, 4, 20))[0] + 100);
  expect(await views()).toBe(2);

  const over = await get("illustrations/hero.png");
  expect(over.status).toBe(429);
  expect(Number(over.headers.get("Retry-After"))).toBeGreaterThan(0);
  const body = await over.json();
  expect(body.error.code).toBe("VIEW_LIMIT_EXCEEDED");
  expect(body.error.status).toBe(429);
  expect(await views()).toBe(2);
  // The delivery URL is not a view and is not limited by views.
  expect((await fetch(`${s.url}/i/${t.username}/illustrations/hero.png`)).status).toBe(200);
});
