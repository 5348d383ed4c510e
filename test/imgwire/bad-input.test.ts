import { afterAll, beforeAll, expect, test } from "bun:test";
import { makeImage } from "../helpers/images.ts";
import { type TestServer, startServer } from "../helpers/server.ts";
import { client, MOUNT, sha256 } from "./helpers.ts";

let s: TestServer;
let call: ReturnType<typeof client>;
let upstream: ReturnType<typeof Bun.serve>;
let jpg: Uint8Array;
beforeAll(async () => {
  jpg = await makeImage(64, 48, "jpg");
  upstream = Bun.serve({
    hostname: "127.0.0.2",
    port: 0,
    fetch: (req) =>
      new URL(req.url).pathname === "/a.jpg" ? new Response(jpg as BodyInit) : new Response("<html>", { status: 200 }),
  });
  s = await startServer({
    env: {
      IMGD_IMPORT_ALLOW_NETWORKS: "127.0.0.2/32",
      // Short enough to wait out, long enough for a create, a PUT and a second PUT on a loaded machine.
      IMGD_IMGWIRE_UPLOAD_TOKEN_TTL_MS: "5000",
      IMGD_IMGWIRE_UPLOAD_URL_TTL_MS: "5000",
    },
  });
  call = client(s);
});
afterAll(async () => {
  await s.stop();
  upstream.stop(true);
});

const newKey = async (json: Record<string, unknown>) =>
  (await call("POST", "/api/v1/api_keys/", "/api/v1/api_keys/", { json: { name: "k", ...json } })).body;
const create = (
  json: Record<string, unknown>,
  init: { key?: string; token?: string; headers?: Record<string, string> } = {},
) =>
  call(
    "POST",
    "/api/v1/images/standard_upload",
    `/api/v1/images/standard_upload${init.token ? `?upload_token=${init.token}` : ""}`,
    { key: init.key, headers: init.headers, json: { file_name: "a.jpg", ...json } },
  );
const blobCount = async () =>
  Array.from(new Bun.Glob("blobs/**/*").scanSync({ cwd: s.dataDir, onlyFiles: true })).filter((f) => !f.includes("tmp"))
    .length;

test("a client key: only standard uploads and image reads; tokens are single use and expire", async () => {
  const ck = (await newKey({ key_type: "CLIENT" })).client_key as string;
  for (const [m, doc, url, json] of [
    ["GET", "/api/v1/images/", "/api/v1/images/"],
    ["POST", "/api/v1/images/upload_via_url", "/api/v1/images/upload_via_url", { url: "http://127.0.0.2/a.jpg" }],
    ["POST", "/api/v1/images/token", "/api/v1/images/token"],
    ["POST", "/api/v1/images/bulk_delete", "/api/v1/images/bulk_delete", { image_ids: [crypto.randomUUID()] }],
    ["POST", "/api/v1/images/downloads", "/api/v1/images/downloads", { image_ids: [crypto.randomUUID()] }],
    ["DELETE", "/api/v1/images/{image_id}", `/api/v1/images/${crypto.randomUUID()}`],
    ["GET", "/api/v1/api_keys/", "/api/v1/api_keys/"],
    ["GET", "/api/v1/cors_origins/", "/api/v1/cors_origins/"],
    ["GET", "/api/v1/custom_domain/", "/api/v1/custom_domain/"],
    ["GET", "/api/v1/environments/", "/api/v1/environments/"],
    ["GET", "/api/v1/metrics/stats", "/api/v1/metrics/stats"],
  ] as const) {
    expect([m, url, (await call(m, doc, url, { key: ck, json })).status]).toEqual([m, url, 403]);
  }
  // Signed uploads required: no token, a forged one, then a real one twice, then an expired one.
  expect((await create({}, { key: ck })).status).toBe(403);
  expect((await create({}, { key: ck, token: "iwut_forged" })).status).toBe(403);
  const tok = (await call("POST", "/api/v1/images/token", "/api/v1/images/token")).body;
  expect(tok.used_at).toBeNull();
  const ok = await create({}, { key: ck, token: tok.token });
  expect(ok.status).toBe(200);
  expect(ok.body.image.upload_token_id).toBe(tok.id);
  expect((await create({}, { key: ck, token: tok.token })).status).toBe(403);
  const old = (await call("POST", "/api/v1/images/token", "/api/v1/images/token")).body.token;
  await Bun.sleep(5100);
  expect((await create({}, { key: ck, token: old })).status).toBe(403);
  // ...and the upload URL of the first has expired by now too.
  expect((await fetch(ok.body.upload_url, { method: "PUT", body: jpg as BodyInit })).status).toBe(403);
  expect(
    (await call("GET", "/api/v1/images/{image_id}", `/api/v1/images/${ok.body.image.id}`, { key: ck })).status,
  ).toBe(200);
});

test("CORS: client keys only from allowed origins; server routes never reflect", async () => {
  const ck = (await newKey({ key_type: "CLIENT", allow_unsigned_upload: true })).client_key as string;
  // No origins configured: any origin.
  const any = await create({}, { key: ck, headers: { origin: "https://anything.test" } });
  expect(any.status).toBe(200);
  expect(any.headers.get("access-control-allow-origin")).toBe("https://anything.test");
  await call("POST", "/api/v1/cors_origins/", "/api/v1/cors_origins/", { json: { pattern: "https://*.good.test" } });
  const good = await create({}, { key: ck, headers: { origin: "https://app.good.test" } });
  expect(good.headers.get("access-control-allow-origin")).toBe("https://app.good.test");
  expect(good.headers.get("vary")).toContain("Origin");
  const bad = await create({}, { key: ck, headers: { origin: "https://evil.test" } });
  expect(bad.status).toBe(403);
  expect(bad.headers.get("access-control-allow-origin")).toBeNull();
  // Preflights: the upload URL checks the environment's origins; server routes get no grant.
  const pre = (url: string, origin: string, method: string) =>
    fetch(url, { method: "OPTIONS", headers: { origin, "access-control-request-method": method } });
  const up = good.body.upload_url as string;
  expect((await pre(up, "https://app.good.test", "PUT")).headers.get("access-control-allow-origin")).toBe(
    "https://app.good.test",
  );
  expect((await pre(up, "https://evil.test", "PUT")).headers.get("access-control-allow-origin")).toBeNull();
  expect(
    (await pre(`${s.url}${MOUNT}/api/v1/api_keys/`, "https://app.good.test", "GET")).headers.get(
      "access-control-allow-origin",
    ),
  ).toBeNull();
  expect(
    (await fetch(up, { method: "PUT", body: jpg as BodyInit, headers: { origin: "https://evil.test" } })).status,
  ).toBe(403);
  const listed = await call("GET", "/api/v1/images/", "/api/v1/images/", { headers: { origin: "https://evil.test" } });
  expect(listed.headers.get("access-control-allow-origin")).toBeNull();
});

test("PUT checks: wrong length, hash, type, non-image bytes → QUARANTINE, no blob; URLs forged and reused", async () => {
  const before = await blobCount();
  const cases: [Record<string, unknown>, Uint8Array, Record<string, string>][] = [
    [{ content_length: jpg.length + 1 }, jpg, {}],
    [{ hash_sha256: sha256(new Uint8Array([1])) }, jpg, {}],
    [{ mime_type: "image/png" }, jpg, {}],
    [{}, jpg, { "content-type": "image/png" }],
    [{}, new TextEncoder().encode("not an image at all, just text".repeat(20)), {}],
  ];
  for (const [decl, bytes, headers] of cases) {
    const c = await create(decl);
    const r = await fetch(c.body.upload_url, { method: "PUT", body: bytes as BodyInit, headers });
    expect(r.status).toBeGreaterThanOrEqual(400);
    const img = await call("GET", "/api/v1/images/{image_id}", `/api/v1/images/${c.body.image.id}`);
    expect(img.body.status).toBe("QUARANTINE");
  }
  expect(await blobCount()).toBe(before);
  const c = await create({});
  const forged = c.body.upload_url.replace(/signature=[0-9a-f]+/, `signature=${"0".repeat(64)}`);
  expect((await fetch(forged, { method: "PUT", body: jpg as BodyInit })).status).toBe(403);
  expect((await fetch(c.body.upload_url, { method: "PUT", body: jpg as BodyInit })).status).toBe(200);
  expect((await fetch(c.body.upload_url, { method: "PUT", body: jpg as BodyInit })).status).toBe(409);
});

test("idempotency races give one image; bulk_delete never touches another tenant; downloads and URL uploads", async () => {
  const results = await Promise.all(Array.from({ length: 6 }, () => create({ idempotency_key: "race-1" })));
  expect(new Set(results.map((r) => r.body.image.id)).size).toBe(1);

  const env = (await call("POST", "/api/v1/environments/", "/api/v1/environments/", { json: { name: "other" } })).body;
  const h = { "x-environment-id": env.id };
  const theirs = await call("POST", "/api/v1/images/upload_via_url", "/api/v1/images/upload_via_url", {
    headers: h,
    json: { url: `http://127.0.0.2:${upstream.port}/a.jpg`, custom_metadata: { a: 1 } },
  });
  expect(theirs.body).toMatchObject({ status: "READY", width: 64, height: 48, custom_metadata: { a: 1 } });
  const mine = await call("POST", "/api/v1/images/upload_via_url", "/api/v1/images/upload_via_url", {
    json: { url: `http://127.0.0.2:${upstream.port}/a.jpg`, idempotency_key: "u1" },
  });
  const mineAgain = await call("POST", "/api/v1/images/upload_via_url", "/api/v1/images/upload_via_url", {
    json: { url: `http://127.0.0.2:${upstream.port}/a.jpg`, idempotency_key: "u1" },
  });
  expect(mineAgain.body.id).toBe(mine.body.id);
  expect(
    (
      await call("POST", "/api/v1/images/upload_via_url", "/api/v1/images/upload_via_url", {
        json: { url: "http://127.0.0.1:1/x.jpg" },
      })
    ).status,
  ).toBe(422);
  expect(
    (
      await call("POST", "/api/v1/images/upload_via_url", "/api/v1/images/upload_via_url", {
        json: { url: `http://127.0.0.2:${upstream.port}/page` },
      })
    ).status,
  ).toBe(400);

  const del = await call("POST", "/api/v1/images/bulk_delete", "/api/v1/images/bulk_delete", {
    json: { image_ids: [mine.body.id, theirs.body.id] },
  });
  expect(del.status).toBe(404);
  expect(
    (await call("GET", "/api/v1/images/{image_id}", `/api/v1/images/${theirs.body.id}`, { headers: h })).body.status,
  ).toBe("READY");
  expect((await call("GET", "/api/v1/images/{image_id}", `/api/v1/images/${mine.body.id}`)).body.status).toBe("READY");
  expect(
    (await call("POST", "/api/v1/images/bulk_delete", "/api/v1/images/bulk_delete", { json: { image_ids: [] } }))
      .status,
  ).toBe(422);

  const job = await call("POST", "/api/v1/images/downloads", "/api/v1/images/downloads", {
    json: { image_ids: [mine.body.id] },
  });
  expect(job.body.status).toBe("PENDING");
  let got = job;
  for (let i = 0; i < 50 && got.body.status !== "READY"; i++) {
    await Bun.sleep(100);
    got = await call(
      "GET",
      "/api/v1/images/downloads/{image_download_job_id}",
      `/api/v1/images/downloads/${job.body.id}`,
    );
  }
  expect(got.body.status).toBe("READY");
  const zip = new Uint8Array(await (await fetch(got.body.download_url)).arrayBuffer());
  expect([zip[0], zip[1]]).toEqual([0x50, 0x4b]);
  expect(Buffer.from(zip).includes(Buffer.from(jpg))).toBe(true);
  expect(
    (await fetch(got.body.download_url.replace(/signature=[0-9a-f]+/, `signature=${"0".repeat(64)}`))).status,
  ).toBe(403);
  expect(
    (
      await call("POST", "/api/v1/images/downloads", "/api/v1/images/downloads", {
        json: { image_ids: [theirs.body.id] },
      })
    ).status,
  ).toBe(404);

  expect(
    (
      await call("POST", "/api/v1/images/bulk_delete", "/api/v1/images/bulk_delete", {
        json: { image_ids: [mine.body.id] },
      })
    ).status,
  ).toBe(200);
  expect((await call("GET", "/api/v1/images/{image_id}", `/api/v1/images/${mine.body.id}`)).status).toBe(404);
});
